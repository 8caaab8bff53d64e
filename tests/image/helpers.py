"""Helpers for the image tests: tiny image folders, a tiny config, running a command."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONPATH": str(REPO),
    "PYTHONDONTWRITEBYTECODE": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def write_images(folder: Path, n: int, base: int, seed: int, gray_first: bool = False) -> None:
    """n random 16x16 images around brightness `base`: even numbers as PNG, odd as JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        arr = (rng.integers(0, 60, (16, 16, 3)) + base).clip(0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
        if gray_first and i == 0:
            img = img.convert("L")  # a grayscale image must become RGB
        img.save(folder / (f"{i}.jpg" if i % 2 else f"{i}.png"))


def make_dataset(root: Path) -> Path:
    """trainA/trainB/testA/testB with 6 / 8 / 4 / 4 16x16 images (A dark, B bright)."""
    write_images(root / "trainA", 6, 40, 0)
    write_images(root / "trainB", 8, 180, 1, gray_first=True)
    write_images(root / "testA", 4, 40, 2)
    write_images(root / "testB", 4, 180, 3)
    return root


def tiny_config(folder: Path, root: Path, name: str = "tiny.yaml", **train) -> Path:
    """A config file in `folder` for a 4-step run of a tiny model on the data in `root`."""
    t = {
        "output_dir": str(folder / "run"),
        "batch_size": 2,
        "constant_steps": 2,
        "decay_steps": 2,
        "save_every": 2,
        "log_every": 1,
        "sample_images": 2,
        **train,
    }
    cfg = {
        "data": {"root": str(root), "load_size": 18, "crop_size": 16},
        "model": {"ngf": 4, "ndf": 4, "n_blocks": 1, "d_layers": 2},
        "train": t,
    }
    p = folder / name
    p.write_text(json.dumps(cfg))  # JSON is YAML
    return p


def run_cli(*args, cwd=REPO, timeout=240, env=None) -> subprocess.CompletedProcess:
    """`python -m ARGS...` in a fresh process (1 thread), output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", *map(str, args)],
        cwd=cwd,
        env=env or ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def truncate(src: Path, dest: Path, drop: int = 50) -> Path:
    """A copy of the JPEG `src` without its last `drop` bytes: the header reads, the pixels do not
    (a truncated download)."""
    dest.write_bytes(src.read_bytes()[:-drop])
    return dest


def tree_hashes(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `root`."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width x height pixels and holds none: the header of a decompression
    bomb (Pillow refuses to open one over 2 x Image.MAX_IMAGE_PIXELS)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path
