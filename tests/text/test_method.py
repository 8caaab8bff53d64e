"""The text method (textcycle/text/method.py): one warm-start, one self-training and one cycle-RL
step of a tiny model, each with its effect checked by hand: the losses it names go down on the
batch it saw, the discriminator learns what it was shown, the learning rate follows the schedule,
and the policy gradient moves the sample with the higher reward up against the other."""

import random

import pytest
import torch
from conftest import NEG_WORDS, POS_WORDS, TINY_CONFIG, make_sentences

from textcycle.config import load_config
from textcycle.text import method as method_module
from textcycle.text.config import TextCycleConfig
from textcycle.text.method import TextCycleGAN
from textcycle.text.networks import GENERATED, pad_batch, sequence_logprobs, token_loss
from textcycle.text.schedule import Schedule
from textcycle.text.tokenizer import TextcycleTokenizer, train_tokenizer

TRAIN = [make_sentences(NEG_WORDS, 200, 1), make_sentences(POS_WORDS, 200, 2)]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    train_tokenizer(TRAIN[0] + TRAIN[1], folder, 200, "bpe", 1.0)
    return TextcycleTokenizer.from_dir(folder)


def make(tokenizer, schedule=None, **train):
    """A tiny method whose `draw` always gives the same first sentences of each style."""
    overrides = [f"train.{k}={v}" for k, v in {"warmup_steps": 4, "dae_weight": 0.0, **train}.items()]
    cfg = load_config(TINY_CONFIG, TextCycleConfig, overrides)
    ids = [tokenizer.encode_fast(TRAIN[s][:8], cfg.tokenizer.max_length) for s in (0, 1)]
    torch.manual_seed(0)
    from accelerate import Accelerator

    m = TextCycleGAN(cfg, tokenizer, TRAIN, Accelerator(cpu=True), lambda s, n: ids[s][:n], random.Random(0), schedule)
    return m, ids


@torch.no_grad()
def loss(m, g: int, src: list[list[int]], tgt: list[list[int]]) -> float:
    """generators[g]'s token loss on src -> tgt, without dropout."""
    gen = m.gens[g]
    gen.eval()
    x, xm = pad_batch(src)
    y, _ = pad_batch(tgt)
    out = token_loss(gen, x, xm, y).item()
    gen.train()
    return out


@torch.no_grad()
def p_generated(m, seqs) -> float:
    m.disc.eval()
    out = m.disc(pad_batch(seqs)[0]).softmax(-1)[:, GENERATED].mean().item()
    m.disc.train()
    return out


def test_warm_step_teaches_each_generator_to_undo_the_noise(tokenizer):
    m, ids = make(tokenizer, bt_start=1, batch_size=4)
    m.noised = lambda y, style: y[1:]  # the noise: drop the first piece (the real one is random)
    before = [loss(m, t, [y[1:] for y in ids[t][:4]], ids[t][:4]) for t in (0, 1)]
    m.step = 0
    logs = m.warm_step()
    assert set(logs) == {"warm/dae_to0", "warm/dae_to1", "disc/loss"}  # no back-translation before bt_start
    after = [loss(m, t, [y[1:] for y in ids[t][:4]], ids[t][:4]) for t in (0, 1)]
    assert after[0] < before[0] and after[1] < before[1]
    # the learning rate after one update: warm-up to lr over warmup_steps = 4, (1 + 1) / 4
    assert m.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * 2 / 4)
    m.step = 1
    assert {"warm/bt_to0", "warm/bt_to1"} <= set(m.warm_step())  # from bt_start on


def test_selftrain_step_learns_the_pair_and_its_back_translation(tokenizer):
    m, ids = make(tokenizer, batch_size=4, selftrain_rounds=1, selftrain_steps=1, warm_steps=0)
    x, y = ids[0][0], ids[1][1]  # a negative source and its "rewrite" into positive
    m.pairs = [[], [(x, y)]]  # pairs[t]: into style t; none into style 0 this round
    before = (loss(m, 1, [x], [y]), loss(m, 0, [y], [x]), p_generated(m, [y]))
    assert m.opt_g.param_groups[0]["lr"] == pytest.approx(3e-4)  # step 0 is self-training: selftrain_lr
    logs = m.selftrain_step()
    assert set(logs) == {"selftrain/pair_to1", "selftrain/bt_to0", "disc/loss"}  # style 0 had no pairs
    assert logs["selftrain/pair_to1"] == pytest.approx(before[0], rel=0.2)  # the loss it trained on
    assert loss(m, 1, [x], [y]) < before[0]  # generators[1]: x -> y
    assert loss(m, 0, [y], [x]) < before[1]  # generators[0]: y -> x, the back-translation
    assert p_generated(m, [y]) > before[2]  # the discriminator was shown y as "generated"
    assert m.opt_g.param_groups[0]["lr"] == pytest.approx(1e-4)  # the one round is over: step 1 has rl_lr


def test_rl_step_moves_the_rewarded_sample_up(tokenizer, monkeypatch):
    schedule = Schedule(
        warm_steps=0, rounds=0, round_steps=1, rl_steps=1, lr=1e-3, warmup_steps=1, selftrain_lr=1e-3, rl_lr=1e-3
    )
    m, ids = make(tokenizer, schedule, batch_size=4, num_samples=2, baseline="mean", bt_weight=0.0)
    a, b = ids[1][2], ids[1][3]  # per source, two samples: a (reward 1) and b (reward 0)
    samples = {}

    def fixed_samples(model, x, mask, max_new, sample=False, temperature=1.0, num_samples=1):
        assert sample and num_samples == 2
        samples[model] = pad_batch([s for _ in range(x.size(0)) for s in (a, b)])[0]
        return samples[model]

    seen = []
    real_loss = method_module.reinforce_loss
    monkeypatch.setattr(method_module, "decode", fixed_samples)
    monkeypatch.setattr(method_module, "reinforce_loss", lambda lp, r, bl: seen.append((r, bl)) or real_loss(lp, r, bl))
    m.reward = lambda smp, s_mask, x, t, s: torch.tensor([1.0, 0.0] * (smp.size(0) // 2))

    src = ids[0][:2]  # the sources of style 0 that draw gives (B = batch_size / K = 2)

    @torch.no_grad()
    def margin():  # log p(a | x) - log p(b | x) under generators[1], without dropout
        g = m.gens[1]
        g.eval()
        x, xm = pad_batch(src)
        lp = [sequence_logprobs(g, x, xm, pad_batch([s] * len(src))[0]).mean().item() for s in (a, b)]
        g.train()
        return lp[0] - lp[1]

    before = margin()
    logs = m.rl_step()
    assert {"rl/reward_to1", "rl/pg_to1", "rl/bt_to0", "disc/loss"} <= set(logs)
    assert logs["rl/reward_to1"] == pytest.approx(0.5)
    # leave-one-out baseline of K = 2: each sample's baseline is the other one's reward
    rewards, base = seen[0]
    assert rewards.tolist() == [1.0, 0.0, 1.0, 0.0] and base.tolist() == [0.0, 1.0, 0.0, 1.0]
    assert margin() > before  # REINFORCE: advantage +1 for a, -1 for b
