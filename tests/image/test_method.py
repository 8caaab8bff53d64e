"""textcycle.image.method: the CycleGAN update, its checkpoint parts and its export."""

import pytest
import torch

from textcycle.image.config import load_image_config
from textcycle.image.method import NETWORKS, CycleGAN
from textcycle.image.model import ImageCycleModel

from .helpers import tiny_config


@pytest.fixture(scope="module")
def accelerator():
    from accelerate import Accelerator

    return Accelerator(cpu=True)


def method(tmp_path, tiny, accelerator, **train):
    cfg = load_image_config(tiny_config(tmp_path, tiny, **train))
    torch.manual_seed(0)
    return CycleGAN(cfg, accelerator).prepare()


def test_step_updates_everything_and_reports_the_losses(tmp_path, tiny, accelerator):
    m = method(tmp_path, tiny, accelerator)
    before = {n: [p.detach().clone() for p in getattr(m, n).parameters()] for n in NETWORKS}
    a, b = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    losses = m.step(a, b)
    assert set(losses) == {"D_A", "D_B", "G_AB", "G_BA", "cycle_A", "cycle_B", "idt_A", "idt_B"}
    assert all(torch.isfinite(v) for v in losses.values())
    for n in NETWORKS:  # every network moved
        assert any(not torch.equal(p0, p) for p0, p in zip(before[n], getattr(m, n).parameters())), n
    assert len(m.pool_A.images) == 2 and len(m.pool_B.images) == 2


def test_identity_weight_zero_has_no_identity_loss(tmp_path, tiny, accelerator):
    m = method(tmp_path, tiny, accelerator, lambda_identity=0.0, gan_mode="vanilla")
    losses = m.step(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16))
    assert "idt_A" not in losses and "cycle_A" in losses


def test_lr_schedule_and_checkpoint_parts(tmp_path, tiny, accelerator):
    m = method(tmp_path, tiny, accelerator, lr=1e-3, constant_steps=2, decay_steps=3)
    assert m.set_lr(0) == pytest.approx(1e-3) and m.set_lr(3) == pytest.approx(0.5e-3)
    assert all(g["lr"] == pytest.approx(0.5e-3) for opt in (m.opt_G, m.opt_D) for g in opt.param_groups)
    models, states = m.checkpoint_parts()
    assert set(models) == set(NETWORKS) and set(states) == {"opt_G", "opt_D", "pool_A", "pool_B"}


def test_translate_in_eval_mode_and_export(tmp_path, tiny, accelerator):
    m = method(tmp_path, tiny, accelerator)
    m.G_AB.train()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    y = m.translate(x, "B")
    assert y.shape == x.shape and m.G_AB.training  # the mode is put back
    exported = m.export()
    assert isinstance(exported, ImageCycleModel) and exported.G_AB is m.raw(m.G_AB)
    exported.eval()
    assert torch.allclose(exported.translate(x, "B"), y)
