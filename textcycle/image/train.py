"""Train an image CycleGAN: `python -m textcycle.image.train --config configs/horse2zebra-64.yaml`.

The same command runs under `accelerate launch` (1 or more processes, CPU or GPU). Every
`train.save_every` steps an atomic checkpoint goes to output_dir/step-XXXXXX/; `--resume` continues
from the newest one (models, optimizers, image pools, step, RNG, data order). Losses go to
TensorBoard (output_dir/tb), output_dir/losses.jsonl and output_dir/losses.png; a sample grid
(real A | fake B | rec A || real B | fake A | rec B) goes to output_dir/samples/ after every epoch.
At the end the generators are exported to output_dir (config.json + G_AB/G_BA.safetensors), the
folder that `textcycle.image.translate --model` and `textcycle.image.evaluate --model` read.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..checkpoint import (latest_checkpoint, list_checkpoints, load_checkpoint, prune_checkpoints,
                          save_checkpoint)
from ..files import atomic_write_text
from ..config import to_dict
from ..errors import TextcycleError
from .config import ImageConfig, load_image_config
from .data import ImageFolder, UnalignedDataset, normalize
from .models import (GANLoss, ImagePool, build_discriminator, build_generator, lr_factor,
                     set_requires_grad)
from .export import export_generators, sample_grid

LOSS_NAMES = ("D_A", "D_B", "G_AB", "G_BA", "cycle_A", "cycle_B", "idt_A", "idt_B")


class CycleGAN:
    """The four networks, two optimizers, two pools and the update of one training step.

    Naming: G_AB maps A -> B, G_BA maps B -> A; D_A tells real A from fake A, D_B real B from fake B.
    """

    def __init__(self, cfg: ImageConfig, accelerator, seed: int = 0):
        import random

        t = cfg.train
        self.cfg, self.acc = cfg, accelerator
        self.G_AB, self.G_BA = build_generator(cfg), build_generator(cfg)
        self.D_A, self.D_B = build_discriminator(cfg), build_discriminator(cfg)
        self.opt_G = torch.optim.Adam(itertools.chain(self.G_AB.parameters(), self.G_BA.parameters()),
                                      lr=t.lr, betas=(t.beta1, t.beta2))
        self.opt_D = torch.optim.Adam(itertools.chain(self.D_A.parameters(), self.D_B.parameters()),
                                      lr=t.lr, betas=(t.beta1, t.beta2))
        self.pool_A = ImagePool(t.pool_size, random.Random(seed * 2 + 1))
        self.pool_B = ImagePool(t.pool_size, random.Random(seed * 2 + 2))
        self.gan_loss, self.l1 = GANLoss(t.gan_mode), nn.L1Loss()

    def prepare(self):
        acc = self.acc
        self.G_AB, self.G_BA, self.D_A, self.D_B, self.opt_G, self.opt_D = acc.prepare(
            self.G_AB, self.G_BA, self.D_A, self.D_B, self.opt_G, self.opt_D)

    def raw(self, net):
        return self.acc.unwrap_model(net)

    def checkpoint_parts(self):
        models = {n: self.raw(getattr(self, n)) for n in ("G_AB", "G_BA", "D_A", "D_B")}
        states = {"opt_G": self.opt_G, "opt_D": self.opt_D, "pool_A": self.pool_A, "pool_B": self.pool_B}
        return models, states

    def set_lr(self, step: int) -> float:
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
        g = self.raw(self.G_AB if to == "B" else self.G_BA)
        was_training = g.training
        g.eval()
        out = g(x)
        g.train(was_training)
        return out


def plot_losses(history: list[dict], path: Path) -> None:
    """Loss curves (one panel for the GAN losses, one for cycle / identity) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    steps = [h["step"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, names in zip(axes, (("D_A", "D_B", "G_AB", "G_BA"), ("cycle_A", "cycle_B", "idt_A", "idt_B"))):
        for n in names:
            if any(n in h for h in history):
                ax.plot(steps, [h.get(n, float("nan")) for h in history], label=n, linewidth=1)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_title("adversarial losses")
    axes[1].set_title("cycle / identity losses (weighted)")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


def read_history(path: Path, up_to_step: int) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if rec.get("step", 0) <= up_to_step:
            out.append(rec)
    return out


def sample_images(cfg: ImageConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A few fixed images per domain for the sample grids: from testA/B, else trainA/B."""
    d, k = cfg.data, cfg.train.sample_images
    out = []
    for dom in ("A", "B"):
        folder = Path(d.root) / f"test{dom}"
        if not folder.is_dir():
            folder = Path(d.root) / f"train{dom}"
        f = ImageFolder(folder, d.crop_size, d.channels, max_images=k, cache=True)
        out.append(normalize(torch.stack([f[i] for i in range(len(f))])))
    return out[0], out[1]


def train(cfg: ImageConfig, resume: bool = False, max_steps: int | None = None) -> Path:
    """Train (or continue) the run in cfg.train.output_dir; return that folder."""
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed

    t = cfg.train
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    out = Path(t.output_dir)
    existing = list_checkpoints(out)
    if resume and not existing:
        raise TextcycleError(f"--resume: no checkpoint in {out}")
    if not resume and existing:
        raise TextcycleError(f"{out} already holds checkpoints: pass --resume to continue, or pick another "
                             f"train.output_dir")
    # without a GPU say so: accelerate only sets up several CPU processes (gloo) when told cpu=True
    no_gpu = not torch.cuda.is_available() and not torch.backends.mps.is_available()
    acc = Accelerator(cpu=no_gpu, mixed_precision=t.mixed_precision,
                      dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=t.seed))
    if acc.device.type == "cpu" and t.threads > 0:
        torch.set_num_threads(t.threads)
    set_seed(t.seed + acc.process_index)

    dataset = UnalignedDataset(cfg.data, "train", seed=t.seed)
    if len(dataset) < t.batch_size * acc.num_processes:
        raise TextcycleError(f"{len(dataset)} training images are fewer than one batch "
                             f"({t.batch_size} x {acc.num_processes} processes)")
    loader = DataLoader(dataset, batch_size=t.batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.data.num_workers)
    model = CycleGAN(cfg, acc, seed=t.seed + acc.process_index)
    model.prepare()
    loader = acc.prepare(loader)
    steps_per_epoch = len(loader)
    total = t.constant_steps + t.decay_steps
    end = min(total, max_steps) if max_steps is not None else total

    step, elapsed_before = 0, 0.0
    if resume:
        ckpt = latest_checkpoint(out)
        models, states = model.checkpoint_parts()
        info = load_checkpoint(ckpt, models, states)
        step, elapsed_before = info["step"], info.get("elapsed_s", 0.0)
        acc.print(f"resumed from {ckpt} at step {step}")
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.json", json.dumps(to_dict(cfg), indent=1))
    fixed_A, fixed_B = sample_images(cfg) if acc.is_main_process else (None, None)

    writer = None
    hist_path = out / "losses.jsonl"
    history: list[dict] = []
    if acc.is_main_process:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=step if resume else None)
        history = read_history(hist_path, step)
        atomic_write_text(hist_path, "".join(json.dumps(h) + "\n" for h in history))
    from tqdm.auto import tqdm

    bar = tqdm(total=end, initial=step, disable=not acc.is_main_process, dynamic_ncols=True, mininterval=5)
    acc.print(f"{len(dataset.A)} A / {len(dataset.B)} B training images, {steps_per_epoch} steps per epoch, "
              f"{acc.num_processes} process(es) on {acc.device}, training steps {step} -> {end} of {total}")

    def save(step_now: int):
        if acc.is_main_process:
            models, states = model.checkpoint_parts()
            info = {"elapsed_s": elapsed_before + time.time() - t0, "epoch": step_now / steps_per_epoch}
            save_checkpoint(out, step_now, models, states, info)
            prune_checkpoints(out, t.keep_checkpoints)
            plot_losses(history, out / "losses.png")
        acc.wait_for_everyone()

    t0 = time.time()
    running: dict = {}
    while step < end:
        epoch, skip = divmod(step, steps_per_epoch)
        loader.set_epoch(epoch)
        dataset.set_epoch(epoch)
        batches = acc.skip_first_batches(loader, skip) if skip else loader
        for batch in batches:
            lr = model.set_lr(step)
            losses = model.step(batch["A"], batch["B"])
            step += 1
            for k, v in losses.items():
                running.setdefault(k, []).append(v)
            if step % t.log_every == 0 or step == end:
                means = {k: acc.reduce(torch.stack(v).mean().to(acc.device), "mean").item() for k, v in running.items()}
                running = {}
                if acc.is_main_process:
                    rec = {"step": step, "lr": lr, **{k: round(v, 5) for k, v in means.items()},
                           "s_per_step": round((time.time() - t0) / max(1, step - bar.initial), 3)}
                    history.append(rec)
                    with open(hist_path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(rec) + "\n")
                    for k, v in means.items():
                        writer.add_scalar(f"loss/{k}", v, step)
                    writer.add_scalar("lr", lr, step)
                    bar.set_postfix({k: f"{means[k]:.3f}" for k in ("D_A", "D_B", "G_AB", "G_BA", "cycle_A") if k in means})
            bar.update(1)
            if step % steps_per_epoch == 0 and acc.is_main_process:
                grid = sample_grid(model, fixed_A.to(acc.device), fixed_B.to(acc.device))
                (out / "samples").mkdir(parents=True, exist_ok=True)
                grid.save(out / "samples" / f"epoch-{step // steps_per_epoch:03d}.png")
                grid.save(out / "samples" / "latest.png")
            if step % t.save_every == 0 or step == end:
                save(step)
            if step >= end:
                break
    bar.close()
    if acc.is_main_process:
        if not (out / "samples" / "latest.png").exists() or step % steps_per_epoch:
            (out / "samples").mkdir(parents=True, exist_ok=True)
            sample_grid(model, fixed_A.to(acc.device), fixed_B.to(acc.device)).save(out / "samples" / "latest.png")
        export_generators(out, cfg, model.raw(model.G_AB), model.raw(model.G_BA))
        wall = elapsed_before + time.time() - t0
        summary = {"step": step, "total_steps": total, "wall_s": round(wall, 1), "processes": acc.num_processes,
                   "device": str(acc.device), "threads": torch.get_num_threads(),
                   "last_losses": history[-1] if history else {}}
        atomic_write_text(out / "train_summary.json", json.dumps(summary, indent=1))
        writer.close()
        plot_losses(history, out / "losses.png")
        print(f"trained to step {step} in {wall / 60:.1f} min; model in {out}")
    acc.wait_for_everyone()
    acc.end_training()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.image.train", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="YAML config, e.g. configs/horse2zebra-64.yaml")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in train.output_dir")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many steps (the LR schedule still follows the config)")
    p.add_argument("overrides", nargs="*", help="config overrides such as train.batch_size=4")
    args = p.parse_args(argv)
    try:
        cfg = load_image_config(args.config, args.overrides)
        train(cfg, resume=args.resume, max_steps=args.max_steps)
    except TextcycleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; continue with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
