"""CUT (Park et al. 2020, "Contrastive Learning for Unpaired Image-to-Image Translation"), both
ways: the content of an image is kept by PatchNCE instead of the cycle, so each direction needs
only its own generator and discriminator.

PatchNCE for G and an input x: G's encoder features of x and of G(x) are taken at the layers
`nce_layers` of the generator; at `nce_patches` random positions (the same for both), a small MLP
per layer (`PatchSampler`, the paper's F) projects them and scales them to unit length. A patch
of G(x) must pick out the patch of x at the same position among all the sampled patches of x:
cross-entropy over their dot products / `nce_temperature` (InfoNCE), averaged over the layers.
CUT: `lambda_nce` 1 and the same loss on G(y) against y for images y of the target domain
(`nce_idt`, an identity check); FastCUT: `lambda_nce` 10 and no identity term. The
discriminators are PatchGANs without an image pool, updated before the generators, as in the
paper's code. `CUT` has `CycleGAN`'s interface (`prepare`, `step`, `translate`,
`checkpoint_parts`, `export`), so the run, the model folder and translation are shared.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from .config import ImageConfig, nce_layers
from .model import ImageCycleModel
from .networks import GANLoss, build_discriminator, build_generator, init_weights, lr_factor, set_requires_grad

NETWORKS = ("G_AB", "G_BA", "D_A", "D_B", "F_AB", "F_BA")


def encoder_features(generator: nn.Module, x: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
    """The outputs of the generator's layers `layers` (indices into its `model` Sequential) for x,
    running only as far as the last of them."""
    feats, last = [], max(layers)
    for i, layer in enumerate(generator.model):
        x = layer(x)
        if i in layers:
            feats.append(x)
        if i == last:
            break
    return feats


class PatchSampler(nn.Module):
    """F: per feature layer, a two-layer MLP on `patches` sampled positions, unit length out."""

    def __init__(self, channels: list[int], dim: int = 256):
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, dim), nn.ReLU(), nn.Linear(dim, dim)) for c in channels)

    def forward(self, feats: list[torch.Tensor], patches: int, ids=None, generator=None):
        """(per layer [B, P, dim], the positions used); `ids` given: the same positions again."""
        out, used = [], []
        for k, (feat, mlp) in enumerate(zip(feats, self.mlps)):
            b, c, h, w = feat.shape
            flat = feat.permute(0, 2, 3, 1).reshape(b, h * w, c)
            pick = ids[k] if ids is not None else torch.randperm(h * w, generator=generator)[: min(patches, h * w)]
            pick = pick.to(feat.device)
            out.append(F.normalize(mlp(flat[:, pick, :]), dim=-1))
            used.append(pick)
        return out, used


def patch_nce(query: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE of [B, P, d] unit vectors: query patch i's positive is key patch i, its negatives
    the other P - 1 key patches of the same image. Mean over all B x P queries."""
    b, p, _ = query.shape
    logits = torch.bmm(query, keys.detach().transpose(1, 2)) / temperature  # [B, P, P], positives on the diagonal
    target = torch.arange(p, device=query.device).expand(b, p)
    return F.cross_entropy(logits.reshape(b * p, p), target.reshape(-1))


class CUT:
    """G_AB, G_BA, D_A, D_B, the patch samplers F_AB, F_BA, three Adam optimizers, and one update,
    under an `accelerate` Accelerator."""

    def __init__(self, cfg: ImageConfig, accelerator, seed: int = 0):
        t, m = cfg.train, cfg.model
        self.cfg, self.acc = cfg, accelerator
        self.G_AB, self.G_BA = build_generator(cfg), build_generator(cfg)
        self.D_A, self.D_B = build_discriminator(cfg), build_discriminator(cfg)
        with torch.no_grad():  # the channels of the tapped layers (eval: batch norm statistics untouched)
            probe = torch.zeros(1, cfg.data.channels, 8 * 2**m.n_downsampling, 8 * 2**m.n_downsampling)
            self.layers = nce_layers(cfg)
            channels = [f.shape[1] for f in encoder_features(self.G_AB.eval(), probe, self.layers)]
            self.G_AB.train()
        self.F_AB = init_weights_linear(PatchSampler(channels, t.nce_dim), m.init_gain)
        self.F_BA = init_weights_linear(PatchSampler(channels, t.nce_dim), m.init_gain)
        betas = (t.beta1, t.beta2)
        self.opt_G = torch.optim.Adam(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()), t.lr, betas)
        self.opt_D = torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()), t.lr, betas)
        self.opt_F = torch.optim.Adam(itertools.chain(self.F_AB.parameters(), self.F_BA.parameters()), t.lr, betas)
        self.gan_loss = GANLoss(t.gan_mode)
        self.patches = torch.Generator().manual_seed(seed)  # the sampled positions, reproducible

    def prepare(self) -> "CUT":
        nets = [getattr(self, n) for n in NETWORKS]
        *nets, self.opt_G, self.opt_D, self.opt_F = self.acc.prepare(*nets, self.opt_G, self.opt_D, self.opt_F)
        for name, net in zip(NETWORKS, nets):
            setattr(self, name, net)
        return self

    def raw(self, net: nn.Module) -> nn.Module:
        return self.acc.unwrap_model(net)

    def checkpoint_parts(self) -> tuple[dict, dict]:
        """(models, states) for textcycle.checkpoint: the six networks; the optimizers and the
        patch positions' random state."""
        models = {n: self.raw(getattr(self, n)) for n in NETWORKS}
        return models, {"opt_G": self.opt_G, "opt_D": self.opt_D, "opt_F": self.opt_F, "patches": _RNG(self)}

    def export(self) -> ImageCycleModel:
        return ImageCycleModel(self.cfg, self.raw(self.G_AB), self.raw(self.G_BA))

    def set_lr(self, step: int) -> float:
        t = self.cfg.train
        lr = t.lr * lr_factor(step, t.constant_steps, t.decay_steps)
        for opt in (self.opt_G, self.opt_D, self.opt_F):
            for group in opt.param_groups:
                group["lr"] = lr
        return lr

    def nce(self, G: nn.Module, sampler: nn.Module, source: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """PatchNCE of G's output against its source, averaged over the tapped layers."""
        t, G = self.cfg.train, self.raw(G)
        keys, ids = sampler(encoder_features(G, source, self.layers), t.nce_patches, generator=self.patches)
        queries, _ = sampler(encoder_features(G, output, self.layers), t.nce_patches, ids)
        return sum(patch_nce(q, k, t.nce_temperature) for q, k in zip(queries, keys)) / len(keys)

    def step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict:
        """One update of both discriminators, then of both generators and samplers; the losses."""
        t, acc = self.cfg.train, self.acc
        losses = {}
        with acc.autocast():
            fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
        # discriminators: real -> 1, fake -> 0
        set_requires_grad([self.D_A, self.D_B], True)
        with acc.autocast():
            losses["D_A"] = 0.5 * (
                self.gan_loss(self.D_A(real_A), True) + self.gan_loss(self.D_A(fake_A.detach()), False)
            )
            losses["D_B"] = 0.5 * (
                self.gan_loss(self.D_B(real_B), True) + self.gan_loss(self.D_B(fake_B.detach()), False)
            )
        self.opt_D.zero_grad(set_to_none=True)
        acc.backward(losses["D_A"] + losses["D_B"])
        self.opt_D.step()
        # generators and samplers: fool the discriminators, keep the patches (PatchNCE)
        set_requires_grad([self.D_A, self.D_B], False)
        with acc.autocast():
            losses["G_AB"] = self.gan_loss(self.raw(self.D_B)(fake_B), True)
            losses["G_BA"] = self.gan_loss(self.raw(self.D_A)(fake_A), True)
            losses["nce_A"] = self.nce(self.G_AB, self.F_AB, real_A, fake_B) * t.lambda_nce
            losses["nce_B"] = self.nce(self.G_BA, self.F_BA, real_B, fake_A) * t.lambda_nce
            if t.nce_idt:  # a target-domain image goes through (nearly) unchanged
                losses["nce_idt_B"] = self.nce(self.G_AB, self.F_AB, real_B, self.G_AB(real_B)) * t.lambda_nce
                losses["nce_idt_A"] = self.nce(self.G_BA, self.F_BA, real_A, self.G_BA(real_A)) * t.lambda_nce
                for a, b in (("nce_A", "nce_idt_B"), ("nce_B", "nce_idt_A")):  # the paper's (NCE + NCE_Y) / 2
                    losses[a], losses[b] = losses[a] * 0.5, losses[b] * 0.5
            loss_G = sum(losses[k] for k in losses if not k.startswith("D_"))
        self.opt_G.zero_grad(set_to_none=True)
        self.opt_F.zero_grad(set_to_none=True)
        acc.backward(loss_G)
        self.opt_G.step()
        self.opt_F.step()
        return {k: v.detach().float() for k, v in losses.items()}

    @torch.no_grad()
    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        g = self.raw(self.G_AB if to == "B" else self.G_BA)
        was_training = g.training
        g.eval()
        out = g(x)
        g.train(was_training)
        return out


def init_weights_linear(net: nn.Module, gain: float) -> nn.Module:
    """The samplers' linear layers ~ N(0, gain), biases 0 (the paper's normal init)."""
    init_weights(net, gain)
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, gain)
            nn.init.zeros_(m.bias)
    return net


class _RNG:
    """The patch positions' generator as a checkpoint state (state_dict / load_state_dict)."""

    def __init__(self, owner: CUT):
        self.owner = owner

    def state_dict(self) -> dict:
        return {"state": self.owner.patches.get_state()}

    def load_state_dict(self, state: dict, device=None) -> None:
        self.owner.patches.set_state(state["state"])
