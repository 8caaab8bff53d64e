"""The method's small parts on hand-computed numbers: rewards, baselines, REINFORCE, noise."""

import itertools
import math
import random
from pathlib import Path

import pytest
import torch

from textcycle.text.noise import noise_words, style_lexicon, swap_markers
from textcycle.text.reward import combine_rewards, content_reward
from textcycle.text.rl import mean_baseline, reinforce_loss


def test_harmonic_mean_reward():
    s = torch.tensor([0.8, 0.0, 1.0, 0.5])
    c = torch.tensor([0.4, 0.9, 1.0, 0.5])
    r = combine_rewards(s, c)
    # 2sc/(s+c): 2*.8*.4/1.2 = 0.5333; wrong style earns nothing; 1; 0.5
    assert r.tolist() == pytest.approx([0.64 / 1.2, 0.0, 1.0, 0.5])
    # content weighted 4x (b^2 = 4): 5sc/(4s+c) = 5*.8*.4/(3.2+.4)
    assert combine_rewards(s[:1], c[:1], 1.0, 4.0).item() == pytest.approx(1.6 / 3.6)


def test_content_reward_is_per_token_probability():
    lp = torch.tensor([math.log(0.5), 0.0, 0.3])
    assert content_reward(lp).tolist() == pytest.approx([0.5, 1.0, 1.0])


def test_leave_one_out_baseline():
    r = torch.tensor([1.0, 2.0, 3.0, 10.0, 10.0, 10.0])
    assert mean_baseline(r, 3).tolist() == pytest.approx([2.5, 2.0, 1.5, 10.0, 10.0, 10.0])
    assert mean_baseline(r, 1).tolist() == [0.0] * 6


def test_reinforce_loss_and_gradient():
    logp = torch.tensor([-1.0, -2.0], requires_grad=True)
    loss = reinforce_loss(logp, torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5]))
    assert loss.item() == pytest.approx(-(0.5 * -1.0 + -0.5 * -2.0) / 2)
    loss.backward()
    # gradient descent raises log p of the better-than-baseline sample, lowers the other
    assert logp.grad.tolist() == pytest.approx([-0.25, 0.25])


def test_style_lexicon_finds_markers_and_ignores_shared_words():
    neg = ["the food was terrible ."] * 20 + ["the staff was rude ."] * 10
    pos = ["the food was delicious ."] * 20 + ["the staff was friendly ."] * 10
    m0, m1 = style_lexicon(neg, pos, min_count=5)
    assert m0 == {"terrible": 20, "rude": 10} and m1 == {"delicious": 20, "friendly": 10}  # sentence counts
    assert list(m0)[0] == "terrible"  # more frequent first


def test_style_lexicon_is_balanced_by_corpus_size():
    # "bad" in 10% of the sentences of each style: no marker, though positive has 10x the sentences
    neg = ["x bad"] * 10 + ["x z"] * 90
    pos = ["x bad"] * 100 + ["x good"] * 900
    m0, m1 = style_lexicon(neg, pos, min_count=5)
    assert "bad" not in m0 and "bad" not in m1 and list(m1) == ["good"]
    # rates 1.0 against 0.1: salience (10 + 1) / (10 * 10/110 + 1) = 5.76 >= 4, though the
    # positive style has more "bad" sentences by count
    neg = ["x bad"] * 10
    pos = ["x good"] * 100 + ["x bad"] * 10
    m0, _ = style_lexicon(neg, pos, min_count=5)
    assert list(m0) == ["bad"]
    m0, _ = style_lexicon(neg, pos, min_count=5, ratio=5.8)
    assert not m0


def test_style_lexicon_never_takes_numbers_for_markers():
    neg = ["it cost $ _num_ and was bad ."] * 20
    pos = ["it was good ."] * 20
    m0, m1 = style_lexicon(neg, pos, min_count=5)
    assert set(m0) == {"cost", "and", "bad"} and set(m1) == {"good"}


def test_swap_markers_replaces_only_markers():
    rng = random.Random(0)
    words = "the food was terrible and cold".split()
    out = swap_markers(words, {"terrible", "cold"}, ["great"], rng, p_swap=1.0, p_drop=0.0)
    assert out == "the food was great and great".split()
    out = swap_markers(words, {"terrible"}, ["great"], rng, p_swap=0.0, p_drop=1.0)
    assert out == "the food was and cold".split()


def test_swap_markers_draws_by_the_markers_counts():
    words = "the food was terrible".split()
    other, cum = ["great", "calzones"], [99, 100]  # counts 99 and 1, cumulative
    rng = random.Random(0)
    drawn = [swap_markers(words, {"terrible"}, other, rng, 1.0, 0.0, cum_weights=cum)[-1] for _ in range(2000)]
    assert 0.97 < drawn.count("great") / 2000 < 1.0  # 0.99 expected
    rng = random.Random(0)
    drawn = [swap_markers(words, {"terrible"}, other, rng, 1.0, 0.0)[-1] for _ in range(2000)]
    assert 0.45 < drawn.count("great") / 2000 < 0.55  # uniform without weights


def test_noise_words_drop_mask_shuffle():
    rng = random.Random(1)
    words = [str(i) for i in range(20)]
    assert noise_words(words, rng, 0.0, 0.0, 0) == words
    masked = noise_words(words, rng, 0.0, 1.0, 0)
    assert masked == ["<unk>"] * 20
    dropped = noise_words(words, rng, 0.5, 0.0, 0)
    assert 0 < len(dropped) < 20 and dropped == sorted(dropped, key=int)
    shuffled = noise_words(words, rng, 0.0, 0.0, 3)
    assert sorted(shuffled, key=int) == words
    # a word moves at most shuffle_window - 1 places
    assert all(abs(int(w) - i) < 3 for i, w in enumerate(shuffled))
    assert noise_words(["only"], rng, 1.0, 0.0, 0) == ["only"]  # never empty


@pytest.mark.parametrize("sampling, ratio", [("uniform", 4.0), ("frequency", 16.0)])  # 16: 4 markers, not 8
def test_method_draws_swapped_markers_as_configured(sampling, ratio, tmp_path):
    from accelerate import Accelerator
    from conftest import write_corpus

    from textcycle.config import load_config
    from textcycle.text.config import TextCycleConfig
    from textcycle.text.train import TrainingRun

    cfg = load_config(
        str(Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"),
        TextCycleConfig,
        overrides=[
            f"data.path={write_corpus(tmp_path / 'data')}",
            f"train.output_dir={tmp_path / 'run'}",
            f"train.marker_sampling={sampling}",
            f"train.lexicon_ratio={ratio}",
        ],
    )
    run = TrainingRun(cfg, Accelerator(cpu=True))
    t, counts = run.method, style_lexicon(*run.corpus.train, ratio=ratio)[1]
    assert len(counts) == (8 if ratio == 4.0 else 4)  # the toy corpus's positive markers at that ratio
    assert t.lex[1] == list(counts)
    if sampling == "uniform":
        assert t.lex_weights == [None, None]
    else:  # cumulative sentence counts, in the lexicon's order
        assert t.lex_weights[1] == list(itertools.accumulate(counts.values()))
