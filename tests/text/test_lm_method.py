"""The LM method's updates on a tiny random Llama: the pair step's two losses, the reward against
the formula by hand, the sign of the policy gradient, the discriminator step, and checkpoints of
the adapter alone."""

import math

import pytest
import torch

pytest.importorskip("peft")

from textcycle.checkpoint import load_checkpoint, save_checkpoint
from textcycle.text.lm_method import LMCycleGAN
from textcycle.text.lm_model import LMGenerators, LMSpec
from textcycle.text.networks import StyleDiscriminator, StyleDiscriminatorConfig
from textcycle.text.textnorm import normalize
from textcycle.text.vocab import encode_ids


@pytest.fixture
def method(tiny_base, bundled_sp):
    torch.manual_seed(0)
    gens = LMGenerators.build(LMSpec(lora_rank=8, lora_alpha=16, lora_dropout=0.0), base=str(tiny_base))
    disc = StyleDiscriminator(
        StyleDiscriminatorConfig(
            vocab_size=bundled_sp.get_piece_size(), d_model=16, layers=1, heads=2, ffn_dim=32, dropout=0.0
        )
    )
    encode = lambda texts: encode_ids(bundled_sp, [normalize(t, "en") for t in texts], 40)  # noqa: E731
    return LMCycleGAN(gens, disc, encode, lr=5e-3, disc_lr=1e-2)


PAIRS = [("the food was bad", "the food was great", 1), ("the staff was friendly", "the staff was rude", 0)]


def test_pair_step_trains_both_directions(method):
    g = method.gens
    forward = g.token_loss(
        ["the food was bad", "the staff was friendly"], [1, 0], ["the food was great", "the staff was rude"]
    )
    cycle = g.token_loss(
        ["the food was great", "the staff was rude"], [0, 1], ["the food was bad", "the staff was friendly"]
    )
    g.eval()
    f, c = method.pair_loss(PAIRS)
    assert f.item() == pytest.approx(forward.item(), abs=1e-5) and c.item() == pytest.approx(cycle.item(), abs=1e-5)
    first = method.pair_step(PAIRS)
    for _ in range(30):
        logs = method.pair_step(PAIRS)
    assert logs["pairs/forward"] < first["pairs/forward"] / 2 and logs["pairs/cycle"] < first["pairs/cycle"] / 2
    # a denoising pair trains one way: no cycle loss, the forward loss as before
    g.eval()
    f1, c0 = method.pair_loss(PAIRS, cycle=False)
    assert c0.item() == 0.0 and f1.item() == pytest.approx(method.pair_loss(PAIRS)[0].item(), abs=1e-6)


def test_reward_is_the_harmonic_mean_by_hand(method):
    sources, samples = ["the food was bad", "the staff was rude"], ["the food was great", "great staff"]
    r, parts = method.reward(sources, samples, t=1)
    method.disc.eval()
    method.gens.eval()
    with torch.no_grad():
        p = torch.softmax(method.disc_logits(samples), -1)[:, 1]
        lp, n = method.gens.target_logprobs(samples, [0, 0], sources)
    c = torch.exp(lp / n)
    for i in range(2):
        s_, c_ = p[i].item(), c[i].item()
        assert r[i].item() == pytest.approx(2 * s_ * c_ / (s_ + c_), rel=1e-4)
    assert parts["content"] == pytest.approx(c.mean().item(), rel=1e-4)


def test_the_policy_gradient_favours_the_rewarded_sample(method, monkeypatch):
    good, bad = "the food was great", "the food was amazing"
    monkeypatch.setattr(method.gens, "generate", lambda xs, ts, **kw: [[good, bad] for _ in xs])
    monkeypatch.setattr(
        method,
        "reward",
        lambda xs, ys, t: (torch.tensor([1.0 if y == good else 0.0 for y in ys]), {"style_acc": 1.0, "content": 1.0}),
    )
    method.bt_weight = 0.0

    def margin():
        method.gens.eval()
        with torch.no_grad():
            lp, _ = method.gens.target_logprobs(["the food was bad"] * 2, [1, 1], [good, bad])
        return (lp[0] - lp[1]).item()

    before = margin()
    for _ in range(5):
        logs = method.rl_step({0: ["the food was bad"]}, k=2)
    assert margin() > before + 0.5
    # advantage +0.5 / -0.5 (leave-one-out baseline of 2 samples): the mean reward is 0.5
    assert logs["rl/reward_to1"] == pytest.approx(0.5)


def test_disc_step_learns_real_from_generated(method):
    real = {0: ["the food was cold .", "rude staff ."], 1: ["great food .", "friendly staff ."]}
    fakes = ["food food food", "the the staff"]
    first = method.disc_step(real, fakes)["disc/loss"]
    for _ in range(40):
        last = method.disc_step(real, fakes)["disc/loss"]
    assert first > math.log(3) * 0.8 and last < first / 3


def test_checkpoints_hold_the_adapter_not_the_base(method, tmp_path, tiny_base):
    method.pair_step(PAIRS)
    models, states = method.checkpoint_parts()
    ckpt = save_checkpoint(tmp_path, 1, models, states, {})
    from safetensors.torch import load_file

    saved = load_file(str(ckpt / "generators.safetensors"))
    assert saved and all("lora_" in k for k in saved)
    before = {k: v.clone() for k, v in models["generators"].state_dict().items()}
    # a fresh method resumes the same adapter weights
    fresh = LMGenerators.build(LMSpec(lora_rank=8, lora_alpha=16, lora_dropout=0.0), base=str(tiny_base))
    other = LMCycleGAN(fresh, method.disc, method.disc_encode)
    m2, s2 = other.checkpoint_parts()
    load_checkpoint(ckpt, m2, s2)
    after = m2["generators"].state_dict()
    assert set(after) == set(before) and all(torch.equal(after[k], before[k]) for k in before)
