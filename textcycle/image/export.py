"""The model folder (Hugging Face style: config.json + G_AB.safetensors + G_BA.safetensors), loading it
back, and the side-by-side sample grids."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..checkpoint import latest_checkpoint
from ..files import atomic_dir
from ..config import from_dict, to_dict
from ..errors import TextcycleError
from .config import ImageConfig, validate
from .data import to_pil
from .models import build_generator

WEIGHTS = {"B": "G_AB.safetensors", "A": "G_BA.safetensors"}  # target domain -> generator file


def export_generators(folder, cfg: ImageConfig, g_ab, g_ba) -> None:
    """Write config.json and both generators' weights into `folder` (kept beside checkpoints)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_dir(folder / ".export") as tmp:
        for name, net in (("G_AB", g_ab), ("G_BA", g_ba)):
            sd = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
            save_file(sd, str(tmp / f"{name}.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(to_dict(cfg), indent=1), encoding="utf-8")
    for f in (folder / ".export").iterdir():
        f.replace(folder / f.name)
    (folder / ".export").rmdir()


def read_model_config(folder) -> ImageConfig:
    folder = Path(folder)
    f = folder / "config.json"
    if not f.is_file():
        raise TextcycleError(f"{folder} is not an image model folder (no config.json); "
                             f"pass the train.output_dir of a training run")
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TextcycleError(f"{f}: not valid JSON ({e})") from None
    return validate(from_dict(ImageConfig, data, where=str(f)))


def load_generators(folder, device="cpu") -> tuple[ImageConfig, dict]:
    """Config and generators {"B": G_AB, "A": G_BA} (keyed by target domain) from a model folder;
    where the folder holds no exported weights yet (a run in progress), its newest checkpoint."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TextcycleError(f"model folder not found: {folder}")
    cfg = read_model_config(folder)
    src = folder
    if not (folder / WEIGHTS["B"]).is_file():
        src = latest_checkpoint(folder)
        if src is None:
            raise TextcycleError(f"{folder} holds no generator weights ({WEIGHTS['B']}) and no checkpoint")
    nets = {}
    for target, fname in WEIGHTS.items():
        f = src / fname
        try:
            sd = load_file(str(f))
        except (OSError, SafetensorError) as e:
            raise TextcycleError(f"cannot read {f}: {e}") from None
        net = build_generator(cfg)
        try:
            net.load_state_dict(sd)
        except RuntimeError as e:
            raise TextcycleError(f"{f} does not match {folder}/config.json: {str(e).splitlines()[0]}") from None
        nets[target] = net.to(device).eval()
    return cfg, nets


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
    """The training-time sample grid from a `CycleGAN` (generators in eval mode)."""
    fake_B = model.translate(real_A, "B")
    rec_A = model.translate(fake_B, "A")
    fake_A = model.translate(real_B, "A")
    rec_B = model.translate(fake_A, "B")
    return grid_rows(real_A, fake_B, rec_A, real_B, fake_A, rec_B)
