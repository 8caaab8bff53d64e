"""The CycleGAN method (Zhu et al. 2017), apart from the run that drives it.

`CycleGAN` holds the four networks, the two Adam optimizers and the two image pools, and does one
training update (`step`): the generators learn to fool the discriminators, to cycle back to their
input (L1, weight `lambda_cycle`) and, optionally, to leave images of their target domain alone
(identity L1, weight `lambda_identity` x `lambda_cycle`); then the discriminators learn real -> 1,
pooled fakes -> 0. `checkpoint_parts` names what a checkpoint saves; `export` is the saved model.

Naming: G_AB maps A -> B, G_BA maps B -> A; D_A tells real A from fake A, D_B real B from fake B.
"""

from __future__ import annotations

import itertools
import random

import torch
from torch import nn

from .config import ImageConfig
from .model import ImageCycleModel
from .networks import GANLoss, ImagePool, build_discriminator, build_generator, lr_factor, set_requires_grad

LOSS_NAMES = ("D_A", "D_B", "G_AB", "G_BA", "cycle_A", "cycle_B", "idt_A", "idt_B")
NETWORKS = ("G_AB", "G_BA", "D_A", "D_B")


class CycleGAN:
    """Networks, optimizers, pools and the update of one training step, under an `accelerate`
    Accelerator (1 or more processes, CPU or GPU, optional autocast)."""

    def __init__(self, cfg: ImageConfig, accelerator, seed: int = 0):
        t = cfg.train
        self.cfg, self.acc = cfg, accelerator
        self.G_AB, self.G_BA = build_generator(cfg), build_generator(cfg)
        self.D_A, self.D_B = build_discriminator(cfg), build_discriminator(cfg)
        self.opt_G = torch.optim.Adam(
            itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()), lr=t.lr, betas=(t.beta1, t.beta2)
        )
        self.opt_D = torch.optim.Adam(
            itertools.chain(self.D_A.parameters(), self.D_B.parameters()), lr=t.lr, betas=(t.beta1, t.beta2)
        )
        self.pool_A = ImagePool(t.pool_size, random.Random(seed * 2 + 1))
        self.pool_B = ImagePool(t.pool_size, random.Random(seed * 2 + 2))
        self.gan_loss, self.l1 = GANLoss(t.gan_mode), nn.L1Loss()

    def prepare(self) -> "CycleGAN":
        """Hand the networks and optimizers to the accelerator (devices, DDP, mixed precision)."""
        self.G_AB, self.G_BA, self.D_A, self.D_B, self.opt_G, self.opt_D = self.acc.prepare(
            self.G_AB, self.G_BA, self.D_A, self.D_B, self.opt_G, self.opt_D
        )
        return self

    def raw(self, net: nn.Module) -> nn.Module:
        return self.acc.unwrap_model(net)

    # ------------------------------------------------------------ checkpoints and export

    def checkpoint_parts(self) -> tuple[dict, dict]:
        """(models, states) for textcycle.checkpoint: the four networks; optimizers and pools."""
        models = {n: self.raw(getattr(self, n)) for n in NETWORKS}
        states = {"opt_G": self.opt_G, "opt_D": self.opt_D, "pool_A": self.pool_A, "pool_B": self.pool_B}
        return models, states

    def export(self) -> ImageCycleModel:
        """The model to save (`save_pretrained`): the two generators and the config."""
        return ImageCycleModel(self.cfg, self.raw(self.G_AB), self.raw(self.G_BA))

    # ------------------------------------------------------------ training

    def set_lr(self, step: int) -> float:
        """Set both optimizers' LR for update number `step` (constant, then linear decay)."""
        t = self.cfg.train
        lr = t.lr * lr_factor(step, t.constant_steps, t.decay_steps)
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict:
        """One update of both generators, then of both discriminators; returns the losses."""
        t, acc = self.cfg.train, self.acc
        lam_c, lam_i = t.lambda_cycle, t.lambda_cycle * t.lambda_identity
        losses = {}
        # generators: fool the discriminators, cycle back, (optionally) leave target images alone
        set_requires_grad([self.D_A, self.D_B], False)
        with acc.autocast():
            fake_B = self.G_AB(real_A)
            rec_A = self.G_BA(fake_B)
            fake_A = self.G_BA(real_B)
            rec_B = self.G_AB(fake_A)
            # the discriminators are called unwrapped here: no gradient for them, no DDP sync
            losses["G_AB"] = self.gan_loss(self.raw(self.D_B)(fake_B), True)
            losses["G_BA"] = self.gan_loss(self.raw(self.D_A)(fake_A), True)
            losses["cycle_A"] = self.l1(rec_A.float(), real_A) * lam_c
            losses["cycle_B"] = self.l1(rec_B.float(), real_B) * lam_c
            if lam_i > 0:
                losses["idt_A"] = self.l1(self.G_BA(real_A).float(), real_A) * lam_i
                losses["idt_B"] = self.l1(self.G_AB(real_B).float(), real_B) * lam_i
            loss_G = sum(losses.values())
        self.opt_G.zero_grad(set_to_none=True)
        acc.backward(loss_G)
        self.opt_G.step()
        # discriminators: real -> 1, (pooled) fake -> 0
        set_requires_grad([self.D_A, self.D_B], True)
        pooled_A = self.pool_A.query(fake_A.detach().float())
        pooled_B = self.pool_B.query(fake_B.detach().float())
        with acc.autocast():
            losses["D_A"] = 0.5 * (self.gan_loss(self.D_A(real_A), True) + self.gan_loss(self.D_A(pooled_A), False))
            losses["D_B"] = 0.5 * (self.gan_loss(self.D_B(real_B), True) + self.gan_loss(self.D_B(pooled_B), False))
        self.opt_D.zero_grad(set_to_none=True)
        acc.backward(losses["D_A"] + losses["D_B"])
        self.opt_D.step()
        return {k: v.detach().float() for k, v in losses.items()}

    @torch.no_grad()
    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        """x translated into domain `to` by the current generator, in eval mode (for samples)."""
        g = self.raw(self.G_AB if to == "B" else self.G_BA)
        was_training = g.training
        g.eval()
        out = g(x)
        g.train(was_training)
        return out
