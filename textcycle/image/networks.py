"""CycleGAN networks and losses: ResNet generator, PatchGAN discriminator, GAN loss, image pool,
the LR schedule, and N(0, 0.02) initialisation (as in pytorch-CycleGAN-and-pix2pix)."""

from __future__ import annotations

import functools
import random

import torch
from torch import nn

from .config import ImageConfig


def norm_layer(kind: str):
    """A constructor `f(channels) -> nn.Module` for the norm named `kind`."""
    if kind == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if kind == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True)
    if kind == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"unknown norm {kind!r}")


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm, use_bias: bool, dropout: float):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm(dim), nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm(dim)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, downsampling convs, residual blocks, transposed convs, c7s1-out, tanh."""

    def __init__(self, in_ch=3, out_ch=3, ngf=64, n_blocks=9, n_downsampling=2, norm="instance", dropout=0.0):
        super().__init__()
        nl = norm_layer(norm)
        use_bias = norm != "batch"  # batch norm has its own shift
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7, bias=use_bias), nl(ngf), nn.ReLU(True)]
        for i in range(n_downsampling):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1, bias=use_bias), nl(c * 2), nn.ReLU(True)]
        c = ngf * 2**n_downsampling
        layers += [ResnetBlock(c, nl, use_bias, dropout) for _ in range(n_blocks)]
        for i in range(n_downsampling):
            c = ngf * 2 ** (n_downsampling - i)
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
                nl(c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: n_layers=3 gives 70x70 receptive fields; outputs one logit per patch."""

    def __init__(self, in_ch=3, ndf=64, n_layers=3, norm="instance"):
        super().__init__()
        nl = norm_layer(norm)
        use_bias = norm != "batch"
        layers = [nn.Conv2d(in_ch, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=use_bias),
                nl(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=use_bias),
            nl(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Conv weights ~ N(0, gain), biases 0; batch-norm scales ~ N(1, gain)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def build_generator(cfg: ImageConfig) -> ResnetGenerator:
    m, c = cfg.model, cfg.data.channels
    return init_weights(ResnetGenerator(c, c, m.ngf, m.n_blocks, m.n_downsampling, m.g_norm, m.dropout), m.init_gain)


def build_discriminator(cfg: ImageConfig) -> PatchDiscriminator:
    m = cfg.model
    return init_weights(PatchDiscriminator(cfg.data.channels, m.ndf, m.d_layers, m.d_norm), m.init_gain)


class GANLoss(nn.Module):
    """LSGAN (mean squared error to 1 / 0) or vanilla GAN (BCE with logits) on patch outputs."""

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode == "lsgan":
            self.loss = nn.MSELoss()
        elif mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        else:
            raise ValueError(f"unknown gan mode {mode!r}")

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        prediction = prediction.float()
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return self.loss(prediction, target)


class ImagePool:
    """A buffer of up to `size` earlier fakes (Shrivastava et al. 2017). `query(batch)` returns, per
    image, the image itself (while the pool fills, or with probability 1/2) or a random stored fake
    that the new image replaces."""

    def __init__(self, size: int = 50, rng: random.Random | None = None):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = rng or random.Random()

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.random() > 0.5:
                i = self.rng.randrange(self.size)
                old = self.images[i].clone()
                self.images[i] = image.clone()
                out.append(old)
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        return {"images": [im.cpu() for im in self.images], "rng": self.rng.getstate()}

    def load_state_dict(self, state: dict, device=None) -> None:
        self.images = [im.to(device) if device is not None else im for im in state["images"]]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))


def lr_factor(step: int, constant_steps: int, decay_steps: int) -> float:
    """The LR multiplier for update number `step` (0-based): 1 for `constant_steps` updates, then a
    linear decay reaching 1/(decay_steps+1) at the last update (the reference's `linear` policy,
    counted in steps instead of epochs)."""
    return 1.0 - max(0, step + 1 - constant_steps) / float(decay_steps + 1)


def set_requires_grad(nets, flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)
