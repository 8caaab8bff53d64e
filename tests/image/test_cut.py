"""textcycle.image.cut: PatchNCE on hand-computed numbers, the patch sampler, the encoder taps,
one CUT update (every network moves, reproducible from the seed), and a CUT run end to end
(resumed losslessly, its model translates both ways)."""

import math

import pytest
import torch

from textcycle.config import ConfigError
from textcycle.image.config import load_image_config
from textcycle.image.cut import CUT, NETWORKS, PatchSampler, encoder_features, patch_nce
from textcycle.image.model import ImageCycleModel
from textcycle.image.train import train

from .helpers import tiny_config


@pytest.fixture(scope="module")
def accelerator():
    from accelerate import Accelerator

    return Accelerator(cpu=True)


def test_patch_nce_by_hand():
    q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # [B=1, P=2, d=2]
    # each query's positive (same position) scores 1, its one negative 0: -log(e / (e + 1)) each
    assert patch_nce(q, q.clone(), 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)))
    # temperature 0.5 doubles the logits: -log(e^2 / (e^2 + 1))
    assert patch_nce(q, q.clone(), 0.5).item() == pytest.approx(math.log(1 + math.exp(-2)))
    # swapped keys: the positive now scores 0 and the negative 1
    assert patch_nce(q, q.flip(1), 1.0).item() == pytest.approx(math.log(1 + math.exp(1)))


def test_the_sampler_reuses_positions_and_gives_unit_vectors():
    torch.manual_seed(0)
    sampler = PatchSampler([3, 5], dim=7)
    feats = [torch.randn(2, 3, 4, 4), torch.randn(2, 5, 2, 2)]
    out, ids = sampler(feats, 6, generator=torch.Generator().manual_seed(1))
    assert [o.shape for o in out] == [(2, 6, 7), (2, 4, 7)]  # at most h x w positions
    assert all(torch.allclose(o.norm(dim=-1), torch.ones(o.shape[:2])) for o in out)
    again, ids2 = sampler(feats, 6, ids)
    assert all(torch.equal(a, b) for a, b in zip(ids, ids2)) and all(torch.allclose(a, b) for a, b in zip(out, again))


def test_encoder_features_are_the_tapped_layers_outputs(tmp_path, tiny, accelerator):
    cfg = load_image_config(tiny_config(tmp_path, tiny, method="cut"))
    m = CUT(cfg, accelerator)
    x = torch.rand(1, 3, 16, 16)
    feats = encoder_features(m.G_AB, x, [0, 4])
    assert torch.equal(feats[0], m.G_AB.model[0](x))
    assert torch.equal(feats[1], m.G_AB.model[:5](x))
    assert m.layers == [0, 4, 7, 10]  # the paper's taps for 2 downsamplings and 1 block


def test_a_step_moves_every_network_and_repeats_from_the_seed(tmp_path, tiny, accelerator):
    cfg = load_image_config(tiny_config(tmp_path, tiny, method="cut", nce_patches=16))
    a, b = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        m = CUT(cfg, accelerator, seed=3).prepare()
        before = {n: [p.detach().clone() for p in getattr(m, n).parameters()] for n in NETWORKS}
        runs.append(m.step(a, b))
        for n in NETWORKS:
            assert any(not torch.equal(p0, p) for p0, p in zip(before[n], getattr(m, n).parameters())), n
    assert set(runs[0]) == {"D_A", "D_B", "G_AB", "G_BA", "nce_A", "nce_B", "nce_idt_A", "nce_idt_B"}
    assert all(torch.isfinite(v) for v in runs[0].values())
    assert {k: v.item() for k, v in runs[0].items()} == {k: v.item() for k, v in runs[1].items()}
    fast = load_image_config(tiny_config(tmp_path, tiny, method="cut", nce_idt=False, lambda_nce=10.0))
    assert set(CUT(fast, accelerator).step(a, b)) == {"D_A", "D_B", "G_AB", "G_BA", "nce_A", "nce_B"}


def test_a_cut_run_resumes_losslessly_and_translates_both_ways(tmp_path, tiny):
    (tmp_path / "a").mkdir()
    whole = load_image_config(tiny_config(tmp_path / "a", tiny, method="cut", nce_patches=8))
    train(whole)
    (tmp_path / "b").mkdir()
    pieces = load_image_config(tiny_config(tmp_path / "b", tiny, method="cut", nce_patches=8))
    train(pieces, max_steps=2)
    train(pieces, resume=True)
    a = ImageCycleModel.from_pretrained(tmp_path / "a" / "run")
    b = ImageCycleModel.from_pretrained(tmp_path / "b" / "run")
    for name in ("G_AB", "G_BA"):
        for (k, p), q in zip(getattr(a, name).state_dict().items(), getattr(b, name).state_dict().values()):
            assert torch.equal(p, q), (name, k)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert a.translate(x, "B").shape == a.translate(x, "A").shape == x.shape


@pytest.mark.parametrize(
    "train_opts, message",
    [
        ({"method": "unit"}, "train.method"),
        ({"method": "cut", "nce_layers": [0, 99]}, "nce_layers"),
        ({"method": "cut", "nce_temperature": 0}, "nce_temperature"),
    ],
)
def test_bad_cut_options_are_one_line_errors(tmp_path, tiny, train_opts, message):
    with pytest.raises(ConfigError, match=message):
        load_image_config(tiny_config(tmp_path, tiny, **train_opts))
