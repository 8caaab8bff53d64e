"""Train an image CycleGAN: `python -m textcycle.image.train --config configs/horse2zebra-64.yaml`.

    python -m textcycle.image.train --config configs/horse2zebra-64.yaml -o train.batch_size=8
    python -m textcycle.image.train --config configs/horse2zebra-64.yaml --resume    # after a kill
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \\
        --dynamo_backend no -m textcycle.image.train --config configs/horse2zebra-64.yaml

This module is the run: data, LR schedule, logging and checkpoints; the method (networks,
optimizers, pools, one update) is `textcycle.image.method.CycleGAN`. The run folder
(`train.output_dir`) has the shape of a text run:
    config.yaml          the config of the run (written once the checks have passed)
    checkpoints/step-N/  atomic checkpoints every train.save_every steps (the newest
                         train.keep_checkpoints kept): networks, optimizers, image pools, RNG
    tensorboard/         the losses and the LR
    history.jsonl        one line per logged step;  curves.png: the same as curves
    samples/             a sample grid per epoch (real A | fake B | rec A || real B | fake A | rec B)
    final/               the model folder (config.json + G_AB/G_BA.safetensors): what
                         `textcycle.image.translate --model` and `textcycle.image.evaluate --model` read
    train_summary.json
`--resume` continues from the newest intact checkpoint (step, RNG and data order included: a
resumed run computes the same weights as an uninterrupted one). The run folder's names are
`textcycle.model_folder`'s, as for the text runs. `train.init_from` starts both generators from a
saved model (`-o train.init_from=horse2zebra` goes on from the bundled one) with fresh
discriminators and optimizers; its steps and hours count in the run's record and card.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from ..checkpoint import list_checkpoints, prune_checkpoints, resume_latest, save_checkpoint, write_errors
from ..cli import entry_point
from ..config import add_config_arguments, check_run_config, resolve_config, save_config
from ..errors import TextcycleError
from ..files import atomic_file, atomic_write_text, check_output_folder
from ..model_folder import CHECKPOINTS, FINAL, RUN_CONFIG
from ..plots import IMAGE_PANELS, plot_curves
from .config import ImageConfig, load_image_config, validate_for_training
from .cut import CUT
from .data import UnalignedDataset, fixed_samples
from .method import CycleGAN
from .model import WEIGHTS, ImageCycleModel, run_record, sample_grid

HISTORY = "history.jsonl"


def check_run_folder(out: Path, resume: bool, cfg: ImageConfig | None = None, config_file: Path | None = None) -> Path:
    """Where the run's checkpoints are (`checkpoints/`); refuse, before anything is written, an output folder that is a file or inside the data
    (`cfg.data.root`), to replace a config.yaml the trainer did not write (`config_file`: the
    --config file), to start over an existing run or to resume a missing one."""
    if cfg is not None:
        check_output_folder(out, "train.output_dir", [cfg.data.root])
        check_run_config(out / RUN_CONFIG, config_file, cfg)
    ckpt_dir = out / CHECKPOINTS
    if resume:
        if list_checkpoints(ckpt_dir):
            return ckpt_dir
        raise TextcycleError(f"--resume: no checkpoint in {ckpt_dir}")
    if list_checkpoints(ckpt_dir):
        raise TextcycleError(
            f"{out} already holds checkpoints: pass --resume to continue, or pick another train.output_dir"
        )
    if (out / FINAL).exists() or (out / WEIGHTS["G_AB"]).exists():
        raise TextcycleError(f"{out} already holds a trained model: pick another train.output_dir")
    return ckpt_dir


def read_history(path: Path, up_to_step: int) -> list[dict]:
    """The logged rows up to `up_to_step` (a resumed run drops the rows after its checkpoint)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if isinstance(rec, dict) and rec.get("step", 0) <= up_to_step:
            out.append(rec)
    return out


def train(
    cfg: ImageConfig,
    resume: bool = False,
    max_steps: int | None = None,
    config_file: Path | None = None,
    max_minutes: float | None = None,
) -> Path:
    """Train (or continue) the run in cfg.train.output_dir (`config_file`: the --config file it
    came from); return that folder. `max_minutes`: stop this invocation after that long, with a
    checkpoint (equal-time pilots; a long run in pieces). A full disk is one line naming the
    checkpoint to resume from."""
    with write_errors(None, Path(cfg.train.output_dir) / CHECKPOINTS, any_os_error=False):
        return _train(cfg, resume, max_steps, config_file, max_minutes)


def _train(
    cfg: ImageConfig, resume: bool, max_steps: int | None, config_file: Path | None, max_minutes: float | None = None
) -> Path:
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed

    t = cfg.train
    validate_for_training(cfg)
    if max_steps is not None and max_steps < 1:
        raise TextcycleError(f"--max-steps must be >= 1, got {max_steps}")
    if max_minutes is not None and not (math.isfinite(max_minutes) and max_minutes > 0):
        raise TextcycleError(f"--max-minutes must be a number above 0, got {max_minutes}")
    if t.threads > 0:
        torch.set_num_threads(t.threads)
    out = Path(t.output_dir)
    resume_from = check_run_folder(out, resume, cfg, config_file)  # first: nothing is written if it refuses

    # without a GPU say so: accelerate only sets up several CPU processes (gloo) when told cpu=True
    no_gpu = not torch.cuda.is_available() and not torch.backends.mps.is_available()
    acc = Accelerator(
        cpu=no_gpu,
        mixed_precision=t.mixed_precision,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=t.seed),
    )
    if acc.device.type == "cpu" and t.threads > 0:
        torch.set_num_threads(t.threads)
    set_seed(t.seed + acc.process_index)

    # data
    dataset = UnalignedDataset(cfg.data, "train", seed=t.seed)
    if len(dataset) < t.batch_size * acc.num_processes:
        raise TextcycleError(
            f"{len(dataset)} training images are fewer than one batch ({t.batch_size} x {acc.num_processes} processes)"
        )
    loader = DataLoader(
        dataset, batch_size=t.batch_size, shuffle=True, drop_last=True, num_workers=cfg.data.num_workers
    )
    fixed_A, fixed_B = fixed_samples(cfg) if acc.is_main_process else (None, None)

    # the method, and where it starts
    method = CUT if t.method == "cut" else CycleGAN
    model = method(cfg, acc, seed=t.seed + acc.process_index)
    start = init_generators(model, t.init_from) if t.init_from and not resume else None
    model.prepare()
    loader = acc.prepare(loader)
    steps_per_epoch = len(loader)
    total = t.constant_steps + t.decay_steps
    end = min(total, max_steps) if max_steps is not None else total
    step, elapsed_before = 0, 0.0
    if resume:
        ckpt, info = resume_latest(resume_from, *model.checkpoint_parts(), log=acc.print)
        step, elapsed_before, start = info["step"], info.get("elapsed_s", 0.0), info.get("init_from")
        acc.print(f"resumed from {ckpt} at step {step}")

    # the run folder: written only now that every check has passed
    history: list[dict] = []
    writer = None
    hist_path = out / HISTORY
    if acc.is_main_process:
        from torch.utils.tensorboard import SummaryWriter

        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / RUN_CONFIG)
        history = read_history(hist_path, step) if resume else []
        atomic_write_text(hist_path, "".join(json.dumps(h) + "\n" for h in history))
        writer = SummaryWriter(str(out / "tensorboard"), purge_step=step if resume else None)
    acc.wait_for_everyone()

    def save(step_now: int) -> None:
        if acc.is_main_process:
            info = {"elapsed_s": elapsed_before + time.time() - t0, "epoch": step_now / steps_per_epoch}
            if start:
                info["init_from"] = start
            save_checkpoint(out / CHECKPOINTS, step_now, *model.checkpoint_parts(), info)
            prune_checkpoints(out / CHECKPOINTS, t.keep_checkpoints)
            plot_curves(history, out / "curves.png", IMAGE_PANELS)
        acc.wait_for_everyone()

    def save_samples(name: str) -> None:
        grid = sample_grid(model, fixed_A.to(acc.device), fixed_B.to(acc.device))
        for file in {f"{name}.png", "latest.png"}:
            with atomic_file(out / "samples" / file) as tmp:
                grid.save(tmp, format="PNG")

    from tqdm.auto import tqdm

    bar = tqdm(total=end, initial=step, disable=not acc.is_main_process, dynamic_ncols=True, mininterval=5)
    acc.print(
        f"{len(dataset.A)} A / {len(dataset.B)} B training images, {steps_per_epoch} steps per epoch, "
        f"{acc.num_processes} process(es) on {acc.device}, training steps {step} -> {end} of {total}"
    )

    # the loop
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
            if max_minutes is not None and out_of_time(acc, time.time() - t0 >= 60 * max_minutes):
                end = step  # this step is the last: logged, checkpointed, exported as below
            for k, v in losses.items():
                running.setdefault(k, []).append(v)
            if step % t.log_every == 0 or step == end:
                means = {k: acc.reduce(torch.stack(v).mean().to(acc.device), "mean").item() for k, v in running.items()}
                running = {}
                if acc.is_main_process:
                    rec = {
                        "step": step,
                        "lr": lr,
                        **{k: round(v, 5) for k, v in means.items()},
                        "s_per_step": round((time.time() - t0) / max(1, step - bar.initial), 3),
                    }
                    history.append(rec)
                    with open(hist_path, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(rec) + "\n")
                    for k, v in means.items():
                        writer.add_scalar(f"loss/{k}", v, step)
                    writer.add_scalar("lr", lr, step)
                    bar.set_postfix(
                        {k: f"{means[k]:.3f}" for k in ("D_A", "D_B", "G_AB", "G_BA", "cycle_A", "nce_A") if k in means}
                    )
            bar.update(1)
            if step % steps_per_epoch == 0 and acc.is_main_process:
                save_samples(f"epoch-{step // steps_per_epoch:03d}")
            if step % t.save_every == 0 or step == end:
                save(step)
            if step >= end:
                break
    bar.close()

    # the end: the model folder, the summary, the curves
    if acc.is_main_process:
        if not (out / "samples" / "latest.png").exists() or step % steps_per_epoch:
            save_samples("latest")
        model.export().save_pretrained(out / FINAL)
        wall = elapsed_before + time.time() - t0
        summary = {
            "step": step,
            "total_steps": total,
            "wall_s": round(wall, 1),
            "processes": acc.num_processes,
            "device": str(acc.device),
            "threads": torch.get_num_threads(),
            "last_losses": history[-1] if history else {},
        }
        if start:
            summary["init_from"] = start
        atomic_write_text(out / "train_summary.json", json.dumps(summary, indent=1) + "\n")
        writer.close()
        plot_curves(history, out / "curves.png", IMAGE_PANELS)
        print(f"trained to step {step} in {wall / 60:.1f} min; model in {out / FINAL}")
    acc.wait_for_everyone()
    acc.end_training()
    return out


def init_generators(model, source: str) -> dict:
    """Load both generators of the saved model `source` (train.init_from) into `model`; returns
    its steps and training time, which the run's checkpoints and card add to their own."""
    saved = ImageCycleModel.from_pretrained(source)
    for name in WEIGHTS:
        try:
            getattr(model, name).load_state_dict(getattr(saved, name).state_dict())
        except RuntimeError as e:
            raise TextcycleError(
                f"train.init_from {source}: its {name} does not fit this config's model.* ({str(e).splitlines()[0]})"
            ) from None
    record = run_record(saved.weights_dir)
    return {"path": str(source), "step": record.get("step") or 0, "wall_s": record.get("wall_s") or 0.0}


def out_of_time(acc, mine: bool) -> bool:
    """Whether any process is out of time, so that all stop at the same step."""
    if acc.num_processes == 1:
        return mine
    return acc.reduce(torch.tensor(float(mine), device=acc.device), "max").item() > 0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m textcycle.image.train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in train.output_dir")
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="stop after this many steps (the LR schedule still follows the config)",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop this invocation after this many minutes of training, with a checkpoint (--resume continues)",
    )
    p.add_argument(
        "positional_overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="config overrides written without -o (the older form), e.g. train.batch_size=4",
    )
    return p.parse_args(argv)


@entry_point
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_image_config(args.config, [*args.positional_overrides, *args.overrides])
    train(cfg, args.resume, args.max_steps, resolve_config(args.config), args.max_minutes)
    return 0


main.interrupt_note = "; continue with --resume"


if __name__ == "__main__":
    sys.exit(main())
