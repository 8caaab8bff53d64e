"""textcycle.image.networks: the generator, the PatchGAN, the pool, the LR schedule, the init."""

import pytest
import torch

from textcycle.image.config import load_image_config
from textcycle.image.networks import (
    GANLoss,
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    build_discriminator,
    build_generator,
    lr_factor,
)


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_networks_shapes(norm):
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=2, norm=norm)
    d = PatchDiscriminator(3, ndf=4, n_layers=3, norm=norm)
    x = torch.randn(2, 3, 32, 32)
    y = g(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert d(torch.randn(2, 3, 70, 70)).shape == (2, 1, 6, 6)  # 70x70 PatchGAN: 6x6 patches at 70 px


def test_defaults_are_the_reference():
    cfg = load_image_config(None)
    m, t = cfg.model, cfg.train
    assert (m.ngf, m.n_blocks, m.ndf, m.d_layers, m.g_norm, m.init_gain) == (64, 9, 64, 3, "instance", 0.02)
    assert (t.gan_mode, t.pool_size, t.lambda_cycle, t.lambda_identity, t.lr, t.beta1) == (
        "lsgan",
        50,
        10.0,
        0.5,
        2e-4,
        0.5,
    )
    g = build_generator(cfg)
    w = g.model[1].weight
    assert abs(w.std().item() - 0.02) < 0.005 and isinstance(g.model[0], torch.nn.ReflectionPad2d)
    d = build_discriminator(load_image_config(None, ["model.ndf=8"]))
    assert isinstance(d, PatchDiscriminator) and abs(d.model[0].weight.std().item() - 0.02) < 0.005


def test_gan_loss_targets():
    pred = torch.zeros(2, 1, 3, 3)
    assert GANLoss("lsgan")(pred, True).item() == pytest.approx(1.0)  # (0 - 1)^2
    assert GANLoss("lsgan")(pred, False).item() == pytest.approx(0.0)
    assert GANLoss("vanilla")(pred, True).item() == pytest.approx(0.6931, abs=1e-4)  # BCE at logit 0


def test_image_pool():
    assert torch.equal(ImagePool(0).query(x := torch.randn(3, 1, 2, 2)), x)
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: the images themselves
    assert len(pool.images) == 4
    new = torch.arange(10.0, 210.0).view(200, 1, 1, 1)
    out = pool.query(new)
    swapped = (out != new).flatten()
    assert 60 < swapped.sum() < 140  # about half come from the pool ...
    assert all(
        o < n for o, n in zip(out.flatten()[swapped].tolist(), new.flatten()[swapped].tolist())
    )  # ... older fakes
    assert sorted(set(out.flatten().tolist()) | {x.item() for x in pool.images}) == sorted(
        set(range(4)) | set(range(10, 210))
    )
    state = pool.state_dict()
    other = ImagePool(4)
    other.load_state_dict(state)
    x = torch.full((6, 1, 1, 1), 5.0)
    assert torch.equal(pool.query(x), other.query(x))  # same images and the same RNG


def test_lr_schedule():
    f = [lr_factor(s, 3, 4) for s in range(7)]
    assert f[:2] == [1.0, 1.0] and f[2] == 1.0  # 3 constant updates (0, 1, 2)
    assert f[3:] == pytest.approx([0.8, 0.6, 0.4, 0.2])  # then linear decay to 1/(decay+1)
