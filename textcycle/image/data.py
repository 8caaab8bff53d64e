"""Unaligned image folders (trainA/ trainB/ testA/ testB/) and the transforms, in plain PIL + torch.

Every file Pillow can read is an image (any format; grayscale becomes RGB when channels=3).
Files that are not images, and images over `MAX_PIXELS` pixels (decompression bombs), are skipped
with a one-line warning; an image that cannot be decoded (a corrupt JPEG) is skipped with a warning
when images are preloaded, and is a clear error otherwise; a folder with no images is an error.
"""

from __future__ import annotations

import random
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..errors import TextcycleError, warn
from .config import ImageConfig, ImageDataConfig

DOMAINS = ("A", "B")
# Images with more pixels than this are skipped (Pillow's own default limit, about 9459 x 9459):
# decoding one would take gigabytes. Pillow's check is replaced by this one, which names the size.
MAX_PIXELS = 89_478_485


class ImageTooLarge(TextcycleError):
    """An image over MAX_PIXELS pixels."""


def warn_skipped(messages: list[str], where) -> None:
    """One warning line per skipped file, for the first three; then one line with the rest."""
    for msg in messages[:3]:
        warn(f"skipped: {msg}")
    if len(messages) > 3:
        warn(f"skipped {len(messages) - 3} more unreadable image(s) in {where}")


@contextmanager
def _size_checked_by_us():
    """Pillow's decompression-bomb check off (it raises, or prints a raw warning): `check_size`
    does it, with the image's size in the message."""
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL")  # EXIF, palette notes
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def check_size(path, im: Image.Image) -> None:
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise ImageTooLarge(f"{path} is {w}x{h} pixels, over the limit of {MAX_PIXELS:,} pixels")


UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def list_images(folder: str | Path, max_images: int | None = None) -> list[Path]:
    """Image files in `folder` (sorted by name), by their headers; files that are not images, and
    images over MAX_PIXELS, are skipped with a warning."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TextcycleError(f"image folder not found: {folder}")
    found, skipped, too_large = [], [], []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        try:
            with _size_checked_by_us(), Image.open(p) as im:
                check_size(p, im)  # reading the header is enough to know Pillow can read it
            found.append(p)
        except ImageTooLarge as e:
            too_large.append(str(e))
        except UNREADABLE:
            skipped.append(p.name)
        if max_images is not None and len(found) >= max_images:
            break
    if skipped:
        shown = ", ".join(skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        warn(f"{folder}: skipped {len(skipped)} file(s) that are not images: {shown}")
    warn_skipped(too_large, folder)
    if not found:
        raise TextcycleError(f"no images in {folder}")
    return found


def load_image(path: str | Path, channels: int = 3) -> Image.Image:
    """Decode one image as RGB (channels=3) or grayscale (1); raise TextcycleError if it is broken
    (ImageTooLarge if it has more than MAX_PIXELS pixels)."""
    try:
        with _size_checked_by_us(), Image.open(path) as im:
            check_size(path, im)
            im.load()
            return im.convert("RGB" if channels == 3 else "L")
    except ImageTooLarge:
        raise
    except UNREADABLE as e:
        raise TextcycleError(
            f"cannot read image {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image -> uint8 tensor C x H x W."""
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return x.float() / 127.5 - 1.0


def to_pil(x: torch.Tensor) -> Image.Image:
    """float C x H x W in [-1, 1] -> PIL image."""
    arr = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def resized(path, size: int, channels: int) -> torch.Tensor:
    """Image at `path`, resized to size x size (bicubic), as uint8 C x H x W."""
    return to_tensor(load_image(path, channels).resize((size, size), Image.BICUBIC))


def load_batch(paths, size: int, channels: int) -> torch.Tensor:
    """Test-time loading: images resized to size x size, float in [-1, 1], N x C x H x W."""
    return normalize(torch.stack([resized(p, size, channels) for p in paths]))


class ImageFolder:
    """The images of one folder at a fixed size, decoded lazily or all at once (`cache`)."""

    def __init__(self, folder, size: int, channels: int, max_images=None, cache=True):
        self.folder, self.size, self.channels = Path(folder), size, channels
        self.paths = list_images(folder, max_images)
        self.cache: list[torch.Tensor] | None = None
        if cache:
            keep, images, bad = [], [], []
            for p in self.paths:
                try:
                    images.append(resized(p, size, channels))
                    keep.append(p)
                except TextcycleError as e:
                    bad.append(str(e))
            warn_skipped(bad, folder)
            if not keep:
                raise TextcycleError(f"no readable images in {folder}")
            self.paths, self.cache = keep, images

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        if self.cache is not None:
            return self.cache[i]
        return resized(self.paths[i], self.size, self.channels)


def random_crop_flip(x: torch.Tensor, crop: int, flip: bool, rng: random.Random) -> torch.Tensor:
    _, h, w = x.shape
    top, left = rng.randint(0, h - crop), rng.randint(0, w - crop)
    x = x[:, top : top + crop, left : left + crop]
    if flip and rng.random() < 0.5:
        x = x.flip(2)
    return x


class UnalignedDataset(Dataset):
    """Item i: image i of A (cycling) and a random image of B, as float tensors in [-1, 1].
    Its length is the larger domain's size, as in the reference code. The random choices (B image,
    crop, flip) depend only on (seed, epoch, i), so a resumed run sees exactly the same batches."""

    def __init__(self, cfg: ImageDataConfig, phase: str = "train", seed: int = 0):
        self.cfg, self.train = cfg, phase == "train"
        size = cfg.load_size if self.train else cfg.crop_size
        root = Path(cfg.root)
        if not root.is_dir():
            raise TextcycleError(f"data root not found: {root}")
        self.A = ImageFolder(root / f"{phase}A", size, cfg.channels, cfg.max_images, cfg.cache)
        self.B = ImageFolder(root / f"{phase}B", size, cfg.channels, cfg.max_images, cfg.cache)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(len(self.A), len(self.B))

    def __getitem__(self, i: int) -> dict:
        a = self.A[i % len(self.A)]
        if not self.train:
            return {"A": normalize(a), "B": normalize(self.B[i % len(self.B)])}
        rng = random.Random(f"{self.seed}-{self.epoch}-{i}")
        b = self.B[rng.randrange(len(self.B))]
        a = random_crop_flip(a, self.cfg.crop_size, self.cfg.flip, rng)
        b = random_crop_flip(b, self.cfg.crop_size, self.cfg.flip, rng)
        return {"A": normalize(a), "B": normalize(b)}


def fixed_samples(cfg: ImageConfig, k: int | None = None, root: str | Path | None = None):
    """`k` (default `train.sample_images`) fixed images per domain for the sample grids, the first
    by name of testA/testB where they exist, else trainA/trainB (of `root`, default the config's
    data root); float in [-1, 1] at crop_size."""
    d, k = cfg.data, k or cfg.train.sample_images
    out = []
    for dom in DOMAINS:
        folder = Path(root or d.root) / f"test{dom}"
        if not folder.is_dir():
            folder = Path(root or d.root) / f"train{dom}"
        f = ImageFolder(folder, d.crop_size, d.channels, max_images=k, cache=True)
        out.append(normalize(torch.stack([f[i] for i in range(len(f))])))
    return out[0], out[1]
