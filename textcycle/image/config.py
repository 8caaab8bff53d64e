"""The image CycleGAN's options: one dataclass tree, read from configs/*.yaml by textcycle.config.

Defaults are the reference CycleGAN settings (Zhu et al. 2017, pytorch-CycleGAN-and-pix2pix):
ResNet-9 generator with 64 filters, 70x70 PatchGAN, LSGAN, a pool of 50 fakes, cycle weight 10,
identity weight 0.5 x cycle, Adam 2e-4 / beta1 0.5, constant then linearly decaying LR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..config import load_config, shown
from ..errors import ConfigError

NORMS = ("instance", "batch", "none")
METHODS = ("cyclegan", "cut")


@dataclass
class ImageDataConfig:
    """Unaligned folders trainA/ trainB/ testA/ testB/ under `root`."""

    root: str = "../shared/data/images/horse2zebra"
    channels: int = 3  # 3: every image becomes RGB (grayscale is converted); 1: grayscale
    load_size: int = 286  # training images are resized to load_size x load_size ...
    crop_size: int = 256  # ... then randomly cropped; test images are resized to crop_size
    flip: bool = True  # random horizontal flips in training
    max_images: Optional[int] = None  # cap per domain (quick runs)
    cache: bool = True  # keep decoded, resized images in memory (small images: much faster)
    num_workers: int = 0


@dataclass
class ImageModelConfig:
    ngf: int = 64  # generator filters in the first layer
    n_blocks: int = 9  # residual blocks (9 for 256 px, 6 for 128 px and below)
    n_downsampling: int = 2
    ndf: int = 64  # discriminator filters in the first layer
    d_layers: int = 3  # 3 = the 70x70 PatchGAN
    g_norm: str = "instance"  # "instance", "batch" or "none"
    d_norm: str = "instance"
    dropout: float = 0.0  # in the generator's residual blocks
    init_gain: float = 0.02  # weights ~ N(0, init_gain)


@dataclass
class ImageTrainConfig:
    output_dir: str = "runs/image"
    # start both generators from a saved model (a model folder, a run, or a bundled name such as
    # horse2zebra); the discriminators, samplers and optimizers start afresh. --resume ignores it.
    init_from: Optional[str] = None
    seed: int = 0
    batch_size: int = 1  # per process
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    gan_mode: str = "lsgan"  # "lsgan" or "vanilla"
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # times lambda_cycle; 0 turns the identity loss off
    pool_size: int = 50  # 0 = no pool (CycleGAN; CUT uses none)
    # "cyclegan" (method.py) or "cut" (cut.py: PatchNCE instead of the cycle; FastCUT is
    # lambda_nce 10 and nce_idt false)
    method: str = "cyclegan"
    lambda_nce: float = 1.0
    nce_idt: bool = True  # CUT's PatchNCE on target-domain images too
    nce_layers: Optional[list] = None  # generator layers tapped; None: as the paper's (`nce_layers`)
    nce_patches: int = 256  # sampled positions per layer
    nce_temperature: float = 0.07
    nce_dim: int = 256  # the samplers' output size
    constant_steps: int = 100000  # steps at the full LR ...
    decay_steps: int = 100000  # ... then steps of linear decay to zero
    threads: int = 1  # torch threads per process on CPU; 0 = leave torch's default
    mixed_precision: str = "no"  # "no", "bf16", "fp16" (GPU)
    log_every: int = 20
    save_every: int = 500
    keep_checkpoints: int = 2
    sample_images: int = 4  # per domain, in the per-epoch sample grid


@dataclass
class ImageConfig:
    data: ImageDataConfig = field(default_factory=ImageDataConfig)
    model: ImageModelConfig = field(default_factory=ImageModelConfig)
    train: ImageTrainConfig = field(default_factory=ImageTrainConfig)


def validate(cfg: ImageConfig) -> ImageConfig:
    m, t, d = cfg.model, cfg.train, cfg.data
    at_least = {
        "data.load_size": (d.load_size, 1),
        "data.crop_size": (d.crop_size, 1),
        "data.num_workers": (d.num_workers, 0),
        "model.ngf": (m.ngf, 1),
        "model.ndf": (m.ndf, 1),
        "model.n_blocks": (m.n_blocks, 0),
        "model.n_downsampling": (m.n_downsampling, 0),
        "model.d_layers": (m.d_layers, 1),
        "train.batch_size": (t.batch_size, 1),
        "train.pool_size": (t.pool_size, 0),
        "train.constant_steps": (t.constant_steps, 0),
        "train.decay_steps": (t.decay_steps, 0),
        "train.threads": (t.threads, 0),
        "train.log_every": (t.log_every, 1),
        "train.save_every": (t.save_every, 1),
        "train.keep_checkpoints": (t.keep_checkpoints, 1),
        "train.sample_images": (t.sample_images, 1),
    }
    if d.max_images is not None:
        at_least["data.max_images"] = (d.max_images, 1)
    for name, (value, low) in at_least.items():
        if value < low:
            raise ConfigError(f"{name} must be >= {low}, got {shown(value)}")
    for name in ("g_norm", "d_norm"):
        if getattr(m, name) not in NORMS:
            raise ConfigError(f"model.{name}: expected one of {', '.join(NORMS)}, got {shown(getattr(m, name))}")
    if t.gan_mode not in ("lsgan", "vanilla"):
        raise ConfigError(f"train.gan_mode: expected lsgan or vanilla, got {shown(t.gan_mode)}")
    if d.channels not in (1, 3):
        raise ConfigError(f"data.channels: expected 1 or 3, got {shown(d.channels)}")
    if d.crop_size > d.load_size:
        raise ConfigError(f"data.crop_size ({d.crop_size}) is larger than data.load_size ({d.load_size})")
    if d.crop_size % (2**m.n_downsampling):
        raise ConfigError(f"data.crop_size ({d.crop_size}) must be divisible by 2**model.n_downsampling")
    if d.crop_size // 2**m.n_downsampling < 2:
        raise ConfigError(
            f"data.crop_size ({d.crop_size}) is too small for model.n_downsampling={m.n_downsampling}"
            f" (at least {2 ** (m.n_downsampling + 1)})"
        )
    if t.lambda_identity < 0 or t.lambda_cycle < 0:
        raise ConfigError("train.lambda_cycle and train.lambda_identity must be >= 0")
    if t.constant_steps + t.decay_steps <= 0:
        raise ConfigError("train.constant_steps + train.decay_steps must be > 0")
    if not t.lr > 0:
        raise ConfigError(f"train.lr must be > 0, got {shown(t.lr)}")
    if not 0 <= m.dropout < 1:
        raise ConfigError(f"model.dropout must be in [0, 1), got {shown(m.dropout)}")
    if t.method not in METHODS:
        raise ConfigError(f"train.method: expected one of {', '.join(METHODS)}, got {shown(t.method)}")
    encoder = 4 + 3 * m.n_downsampling + m.n_blocks
    layers = nce_layers(cfg)
    if not (
        isinstance(layers, list)
        and layers
        and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < encoder for i in layers)
    ):
        raise ConfigError(
            f"train.nce_layers must be a list of generator layers from 0 to {encoder - 1} "
            f"(its encoder with n_downsampling {m.n_downsampling}, n_blocks {m.n_blocks}), got {shown(layers)}"
        )
    if t.nce_patches < 1 or t.nce_dim < 1 or not t.nce_temperature > 0 or t.lambda_nce < 0:
        raise ConfigError("train.nce_patches and nce_dim must be >= 1, nce_temperature > 0, lambda_nce >= 0")
    if t.mixed_precision not in ("no", "bf16", "fp16"):
        raise ConfigError(f'train.mixed_precision: expected "no", bf16 or fp16, got {shown(t.mixed_precision)}')
    return cfg


def nce_layers(cfg: ImageConfig) -> list:
    """The generator layers CUT's PatchNCE taps: `train.nce_layers`, or the paper's choice in our
    generator's layer numbering (pad, conv, norm, relu, then conv, norm, relu per downsampling,
    then the blocks): the padded input, each downsampling conv, the first block and the fifth
    (or the last, with fewer): [0, 4, 7, 10, 14] for 2 downsamplings and 9 blocks."""
    if cfg.train.nce_layers is not None:
        return cfg.train.nce_layers
    n, b = cfg.model.n_downsampling, cfg.model.n_blocks
    first_block = 4 + 3 * n
    blocks = [first_block, first_block + min(4, b - 1)] if b else []
    return sorted(set([0] + [4 + 3 * i for i in range(n)] + blocks))


def validate_for_training(cfg: ImageConfig) -> ImageConfig:
    """What training needs beyond `validate` (which is enough for translating): discriminators
    that give at least one patch at crop_size."""
    d, m = cfg.data, cfg.model
    if d.crop_size // 2**m.d_layers < 3:  # d_layers stride-2 convs, then two 4x4 convs that take 1 pixel each
        raise ConfigError(
            f"data.crop_size ({d.crop_size}) is too small for a PatchGAN with model.d_layers="
            f"{m.d_layers} (at least {3 * 2**m.d_layers})"
        )
    return cfg


def load_image_config(path=None, overrides=None) -> ImageConfig:
    return validate(load_config(path, ImageConfig, overrides))
