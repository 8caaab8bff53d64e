"""The saved image model: `ImageCycleModel`, the two generators and their config as one folder,
and the side-by-side sample grids (visuals) drawn from any object with `translate(x, to)`.

A model folder (Hugging Face style) holds:
- `config.json`        the whole `ImageConfig` (data sizes and channels, model sizes, training options)
- `G_AB.safetensors`   the generator A -> B
- `G_BA.safetensors`   the generator B -> A
- `training.json`      (a bundled model) the steps and training time behind the weights (`run_record`)

`ImageCycleModel.from_pretrained(path)` takes a bundled name (`horse2zebra`, `zebra2horse`: the
folder `pretrained/horse2zebra`, `textcycle.image.bundle`), a model folder or a run folder (its
names, shared with the text runs, are `textcycle.model_folder`'s): a finished run's `final/`, or a
run in progress (its newest checkpoint and `config.yaml`; so is a run resumed past its final/).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..checkpoint import DONE_MARK, STEP_DIR, latest_checkpoint
from ..config import from_dict, to_dict
from ..errors import TextcycleError
from ..files import atomic_dir
from ..model_folder import CHECKPOINTS, FINAL, RUN_CONFIG, resolve_image, run_model
from ..shapes import check_shapes
from .config import ImageConfig, load_image_config, validate
from .data import to_pil
from .networks import build_generator

CONFIG = "config.json"
WEIGHTS = {"G_AB": "G_AB.safetensors", "G_BA": "G_BA.safetensors"}
TRAINING = "training.json"


class ImageCycleModel(nn.Module):
    """G_AB (A -> B) and G_BA (B -> A) with the config they were trained with."""

    def __init__(self, cfg: ImageConfig, G_AB: nn.Module, G_BA: nn.Module):
        super().__init__()
        self.cfg = cfg
        self.G_AB, self.G_BA = G_AB, G_BA
        self.path: Path | None = None  # the folder it was loaded from
        self.default_to: str | None = None  # a bundled name's direction ("horse2zebra": B)
        self.weights_dir: Path | None = None  # where the weights came from: a model folder or a checkpoint

    def generator(self, to: str) -> nn.Module:
        """The generator that translates into domain `to` ("A" or "B")."""
        if to not in ("A", "B"):
            raise TextcycleError(f"the target domain must be A or B, not {to!r}")
        return self.G_AB if to == "B" else self.G_BA

    @torch.no_grad()
    def translate(self, x: torch.Tensor, to: str, batch_size: int = 32) -> torch.Tensor:
        """Images (N x C x H x W in [-1, 1]) translated into domain `to`, in [-1, 1]."""
        g = self.generator(to)
        return torch.cat([g(x[i : i + batch_size]).clamp(-1, 1) for i in range(0, len(x), batch_size)])

    def fingerprint(self) -> str:
        """SHA-256 of both generators' weights: ties an evaluation's scores to the model a bundle
        ships (`image.bundle` refuses scores of other weights)."""
        h = hashlib.sha256()
        for name in WEIGHTS:
            for key, t in sorted(getattr(self, name).state_dict().items()):
                h.update(key.encode())
                h.update(t.detach().cpu().float().contiguous().numpy().tobytes())
        return h.hexdigest()

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write the model folder atomically (a kill leaves the old folder or the new one)."""
        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            self.write_files(tmp)
        return folder

    def write_files(self, folder: Path) -> None:
        """The model folder's files (config.json, both generators) into an existing `folder`."""
        for name in WEIGHTS:
            net = getattr(self, name)
            sd = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
            save_file(sd, str(folder / WEIGHTS[name]), metadata={"format": "pt"})
        (folder / CONFIG).write_text(json.dumps(to_dict(self.cfg), indent=1), encoding="utf-8")

    @classmethod
    def from_pretrained(cls, folder_or_run: str | Path, device="cpu") -> "ImageCycleModel":
        """Load a bundled model ("horse2zebra", "zebra2horse"), a model folder, or the model of a
        run folder (see the module docstring)."""
        folder, default_to = resolve_image(folder_or_run)
        cfg, weights = locate(folder)
        nets = {}
        for name in WEIGHTS:
            f = weights / WEIGHTS[name]
            try:
                sd = load_file(str(f))
            except (OSError, SafetensorError) as e:
                raise TextcycleError(f"cannot read {f}: {e}") from None
            _check_sizes(cfg, sd, f)
            net = build_generator(cfg)
            try:
                net.load_state_dict(sd)
            except RuntimeError as e:
                raise TextcycleError(f"{f} does not match the model's config: {str(e).splitlines()[0]}") from None
            nets[name] = net
        model = cls(cfg, nets["G_AB"], nets["G_BA"]).to(device).eval()
        model.path, model.default_to, model.weights_dir = folder, default_to, weights
        return model


def _check_sizes(cfg: ImageConfig, sd: dict, f: Path) -> None:
    """The config's generator against the weights in `f`, before it is built: `validate` gives
    sizes no upper bound, and an edited one (model.ngf 1000000000) would make torch allocate
    terabytes or fail with a traceback. A generator cannot have more layers than the file has
    tensors, nor layers wider than its widest tensor; within that, built on the meta device
    (`check_shapes`), every shape must match."""
    m = cfg.model
    widest = max((max(t.shape) for t in sd.values() if t.dim()), default=0)
    if m.n_blocks + m.n_downsampling > len(sd) or m.ngf * 2**m.n_downsampling > widest:
        raise TextcycleError(
            f"{f} does not match the model's config: model.ngf {m.ngf}, n_blocks {m.n_blocks} and "
            f"n_downsampling {m.n_downsampling} make a larger generator than the file holds"
        )
    check_shapes(lambda: build_generator(cfg), sd, f"{f}: its weights")


def run_record(weights_dir: Path) -> dict:
    """Steps and training time behind the weights in `weights_dir`, counting those of the saved
    model a run started from (`train.init_from`, kept as "init_from"): a checkpoint's record, a
    finished run's train_summary.json beside its final/, a bundled folder's training.json; {} if none."""
    summary = weights_dir.parent / "train_summary.json"
    if (weights_dir / DONE_MARK).is_file():  # checkpoints/step-N of a run in progress
        info = json.loads((weights_dir / DONE_MARK).read_text(encoding="utf-8"))
        own = {"run_step": info["step"], "wall_s": info.get("elapsed_s", 0.0), "final": False}
        start = info.get("init_from")
    elif weights_dir.name == FINAL and summary.is_file():
        s = json.loads(summary.read_text(encoding="utf-8"))
        own = {"run_step": s.get("step") or 0, "wall_s": s.get("wall_s") or 0.0, "final": True}
        start = s.get("init_from")
    elif (weights_dir / TRAINING).is_file():  # a bundled model: the record it was bundled with
        try:
            record = json.loads((weights_dir / TRAINING).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TextcycleError(f"cannot read {weights_dir / TRAINING}: {e}") from None
        if not (
            isinstance(record, dict) and all(isinstance(record.get(k, 0), (int, float)) for k in ("step", "wall_s"))
        ):
            raise TextcycleError(f"{weights_dir / TRAINING} is not a training record (step, wall_s)")
        return record
    else:
        return {}
    start = start or {}
    record = {
        **own,
        "step": own["run_step"] + start.get("step", 0),
        "wall_s": round(own["wall_s"] + start.get("wall_s", 0.0), 1),
    }
    return {**record, "init_from": start} if start else record


def read_model_config(file: Path) -> ImageConfig:
    """The ImageConfig in a model folder's config.json."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TextcycleError(f"{file}: not valid JSON ({e})") from None
    except OSError as e:
        raise TextcycleError(f"cannot read {file}: {e}") from None
    return validate(from_dict(ImageConfig, data, where=str(file)))


def resumed_past(run: Path) -> bool:
    """Whether a resumed run has checkpoints beyond the step its final/ was written at (its
    train_summary.json): its model is then the newest checkpoint, not the older final/."""
    ckpt = latest_checkpoint(run / CHECKPOINTS)
    if ckpt is None:
        return False
    try:
        final_step = json.loads((run / "train_summary.json").read_text(encoding="utf-8"))["step"]
        return int(STEP_DIR.match(ckpt.name).group(1)) > int(final_step)
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no readable summary: the final/ stands


def locate(path: str | Path) -> tuple[ImageConfig, Path]:
    """(config, folder holding G_AB/G_BA.safetensors) for a model folder or a run folder."""
    path = Path(path)
    if not path.is_dir():
        raise TextcycleError(f"model folder not found: {path}")
    final = run_model(path, (FINAL,))
    if final is not None and not resumed_past(path):
        path = final  # a finished run: its final/
    if (path / CONFIG).is_file():  # a model folder
        if not (path / WEIGHTS["G_AB"]).is_file():
            raise TextcycleError(f"{path} holds {CONFIG} but no generator weights ({WEIGHTS['G_AB']})")
        return read_model_config(path / CONFIG), path
    # a run in progress: its config and newest checkpoint (checkpoints/step-N)
    if (path / RUN_CONFIG).is_file():
        cfg = load_image_config(path / RUN_CONFIG)
    else:
        raise TextcycleError(
            f"{path} is not an image model folder (no {CONFIG}) nor a training run "
            f"(no {FINAL}/ or {RUN_CONFIG}); pass a model folder or the train.output_dir of a run"
        )
    ckpt = latest_checkpoint(path / CHECKPOINTS)
    if ckpt is None:
        raise TextcycleError(f"{path} holds no generator weights ({WEIGHTS['G_AB']}) and no checkpoint")
    return cfg, ckpt


# ---------------------------------------------------------------- visuals: sample grids


def hstack(images: list[Image.Image], gap: int = 0) -> Image.Image:
    w = sum(im.width for im in images) + gap * (len(images) - 1)
    h = max(im.height for im in images)
    out = Image.new("RGB", (w, h), (255, 255, 255))
    x = 0
    for im in images:
        out.paste(im.convert("RGB"), (x, 0))
        x += im.width + gap
    return out


def vstack(images: list[Image.Image], gap: int = 0) -> Image.Image:
    w = max(im.width for im in images)
    h = sum(im.height for im in images) + gap * (len(images) - 1)
    out = Image.new("RGB", (w, h), (255, 255, 255))
    y = 0
    for im in images:
        out.paste(im, (0, y))
        y += im.height + gap
    return out


@torch.no_grad()
def grid_rows(real_A, fake_B, rec_A, real_B, fake_A, rec_B) -> Image.Image:
    """Rows of: real A | fake B | rec A || real B | fake A | rec B."""
    rows = []
    for i in range(max(len(real_A), len(real_B))):
        left = [to_pil(t[i]) for t in (real_A, fake_B, rec_A)] if i < len(real_A) else []
        right = [to_pil(t[i]) for t in (real_B, fake_A, rec_B)] if i < len(real_B) else []
        size = (left or right)[0].size
        left = left or [Image.new("RGB", size, (255, 255, 255))] * 3
        right = right or [Image.new("RGB", size, (255, 255, 255))] * 3
        rows.append(hstack([hstack(left), hstack(right)], gap=max(2, size[0] // 8)))
    return vstack(rows, gap=2)


@torch.no_grad()
def sample_grid(model, real_A: torch.Tensor, real_B: torch.Tensor) -> Image.Image:
    """The sample grid of `model` (a `CycleGAN` during training, or an `ImageCycleModel`)."""
    fake_B = model.translate(real_A, "B")
    rec_A = model.translate(fake_B, "A")
    fake_A = model.translate(real_B, "A")
    rec_B = model.translate(fake_A, "B")
    return grid_rows(real_A, fake_B, rec_A, real_B, fake_A, rec_B)
