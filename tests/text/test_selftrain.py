"""Reward-ranked self-training (textcycle.text.selftrain) on hand-computed numbers, and its place in
the schedule."""

import json
import math

import numpy as np
import pytest

from textcycle.errors import TextcycleError
from textcycle.text.config import TextCycleConfig
from textcycle.text.selftrain import best_candidates, load_pairs, make_pairs, save_pairs, token_overlap


def test_best_candidate_is_the_highest_reward_that_passes_every_threshold():
    reward = np.array(
        [
            [0.9, 0.5, 0.7],  # 0.9 is a copy, 0.7 misses the style: 0.5 (column 1)
            [0.2, 0.8, 0.4],  # 0.8 loses the content: 0.4 (column 2)
            [0.6, 0.6, 0.1],  # tie: the first column
            [0.9, 0.9, 0.9],
        ]
    )  # nothing passes: -1
    style = np.array([[0.9, 0.6, 0.4], [0.9, 0.9, 0.9], [0.7, 0.7, 0.7], [0.1, 0.2, 0.3]])
    content = np.array([[0.9, 0.5, 0.9], [0.5, 0.1, 0.3], [0.5, 0.5, 0.5], [0.9, 0.9, 0.9]])
    copy = np.zeros((4, 3), dtype=bool)
    copy[0, 0] = True
    best = best_candidates(reward, style, content, copy, min_style=0.5, min_content=0.2)
    assert best.tolist() == [1, 2, 0, -1]


class FakeEngine:
    """Fixed candidates, discriminator logits and reconstruction log-probabilities."""

    def __init__(self):
        self.samples = {(1, (5, 3)): [[7, 3]], (0, (6, 3)): [[8, 3]]}
        self.greedy = {(1, (5, 3)): [5, 3], (0, (6, 3)): [9, 3]}  # the first greedy rewrite is a copy
        self.logits = {
            (7, 3): [0.0, math.log(3), 0.0],
            (5, 3): [0.0, 5.0, 0.0],
            (8, 3): [5.0, 0.0, 0.0],
            (9, 3): [math.log(3), 0.0, 0.0],
        }
        self.recon = {(7, 3): math.log(0.5), (5, 3): 0.0, (8, 3): math.log(0.1), (9, 3): math.log(0.5)}
        self.scored_with = []

    def generate_ids(self, src, to, sample=False, num_hypotheses=1, temperature=1.0, seed=None):
        if sample:
            return [self.samples[(to, tuple(x))][:num_hypotheses] for x in src]
        return [[self.greedy[(to, tuple(x))]] for x in src]

    def style_logits_ids(self, ids):
        return np.array([self.logits[tuple(y)] for y in ids])

    def logprobs_ids(self, src, tgt, with_generator):
        self.scored_with.append(with_generator)
        return np.array([self.recon[tuple(y)] for y in src])


def test_make_pairs_keeps_the_best_scored_rewrite_per_source():
    engine = FakeEngine()
    pairs, stats = make_pairs(
        engine, [[[5, 3]], [[6, 3]]], num_samples=1, temperature=1.0, min_style=0.5, min_content=0.2
    )
    # into style 1: the sample [7, 3] (the greedy one is a copy); into style 0: the sample [8, 3]
    # has content 0.1 < 0.2, so the greedy [9, 3]
    assert pairs == [[([6, 3], [9, 3])], [([5, 3], [7, 3])]]
    # content is scored by the *other* generator (style of the source): 0 for sources of style 0
    assert engine.scored_with == [0, 1]
    # reward of [7, 3] into style 1: s = softmax(0, log 3, 0)[1] = 3/5, c = 0.5; 2sc / (s + c)
    assert stats["selftrain/reward_to1"] == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    # style probability: the two style classes renormalised, 3/4
    assert stats["selftrain/style_to1"] == pytest.approx(0.75)
    assert stats["selftrain/content_to0"] == pytest.approx(0.5)
    assert stats["selftrain/kept_to0"] == stats["selftrain/kept_to1"] == 1.0


def test_make_pairs_drops_sources_with_no_good_candidate():
    pairs, stats = make_pairs(
        FakeEngine(), [[[5, 3]], [[6, 3]]], num_samples=1, temperature=1.0, min_style=0.8, min_content=0.2
    )  # 3/4 < 0.8 everywhere
    assert pairs == [[], []] and stats["selftrain/kept_to1"] == 0.0


def test_token_overlap_is_the_unigram_f1_without_the_end_token():
    assert token_overlap([5, 6, 3], [5, 6, 3]) == 1.0
    assert token_overlap([5, 6, 3], [7, 8, 3]) == 0.0  # the shared </s> does not count
    assert token_overlap([5, 6, 3], [5, 8, 9, 3]) == pytest.approx(2 * 1 / (2 + 3))
    assert token_overlap([5, 5, 6, 3], [5, 7, 3]) == pytest.approx(2 * 1 / (3 + 2))  # counts, not sets


def test_overlap_makes_selection_prefer_the_rewrite_that_keeps_the_words():
    """Source [5, 6] into style 1. Sample [7, 8]: back-translation content 0.9, no word kept;
    greedy [5, 8]: content 0.5, overlap F1 0.5; same style score. Alone the back-translation
    picks the sample; with overlap 0.5 the contents are 0.45 and 0.5, so the greedy one."""
    engine = FakeEngine()
    engine.samples = {(1, (5, 6, 3)): [[7, 8, 3]]}
    engine.greedy = {(1, (5, 6, 3)): [5, 8, 3]}
    engine.logits = {(7, 8, 3): [0.0, 2.0, 0.0], (5, 8, 3): [0.0, 2.0, 0.0]}
    engine.recon = {(7, 8, 3): math.log(0.9), (5, 8, 3): math.log(0.5)}
    args = dict(num_samples=1, temperature=1.0, min_style=0.5, min_content=0.2)
    pairs, _ = make_pairs(engine, [[[5, 6, 3]], []], **args)
    assert pairs[1] == [([5, 6, 3], [7, 8, 3])]
    pairs, stats = make_pairs(engine, [[[5, 6, 3]], []], **args, overlap=0.5)
    assert pairs[1] == [([5, 6, 3], [5, 8, 3])]
    assert stats["selftrain/content_to1"] == pytest.approx(0.5)


def test_pairs_round_trip_and_a_damaged_file_is_one_line(tmp_path):
    pairs = [[([6, 3], [9, 3])], [([5, 3], [7, 3]), ([4, 3], [2, 3])]]
    save_pairs(tmp_path / "round-0.json", pairs, {"selftrain/kept_to0": 0.5})
    assert load_pairs(tmp_path / "round-0.json") == (pairs, {"selftrain/kept_to0": 0.5})
    (tmp_path / "bad.json").write_text('{"pairs": [[[1]]]}')
    with pytest.raises(TextcycleError, match="damaged self-training pairs"):
        load_pairs(tmp_path / "bad.json")


def test_learning_rate_phases_and_the_time_limit_cut():
    from textcycle.text.schedule import Schedule

    tc = TextCycleConfig().train
    tc.lr, tc.warmup_steps, tc.warm_steps, tc.rl_steps = 1e-3, 10, 100, 30
    tc.selftrain_rounds, tc.selftrain_steps, tc.selftrain_lr, tc.rl_lr = 2, 50, 3e-4, 1e-4
    sch = Schedule.from_config(tc)
    f = sch.lr_factor
    assert f(4) == pytest.approx(0.5)  # warm-up: (4 + 1) / 10
    assert f(99) == 1.0
    assert f(100) == f(199) == pytest.approx(0.3)  # self-training
    assert f(200) == pytest.approx(0.1)  # cycle-RL
    assert [sch.phase(s) for s in (99, 100, 149, 150, 199, 200)] == [
        ("warm", None),
        ("selftrain", 0),
        ("selftrain", 0),
        ("selftrain", 1),
        ("selftrain", 1),
        ("rl", None),
    ]
    assert (sch.round_start(1), sch.selftrain_end, sch.total) == (150, 200, 230)
    sch.cut(1)  # the time limit: one round only; RL starts at once, at its own rate
    assert sch.phase(150) == ("rl", None) and f(150) == pytest.approx(0.1) and sch.total == 180
    assert tc.selftrain_rounds == 2  # the config is never changed


def test_training_run_has_a_selftraining_round(trained):
    pairs, stats = load_pairs(trained / "selftrain" / "round-0.json")
    assert pairs[0] and pairs[1], "the tiny run kept no pseudo-pairs"
    for t in (0, 1):
        assert all(src != tgt for src, tgt in pairs[t])  # copies are never pairs
        assert 0 < stats[f"selftrain/kept_to{t}"] <= 1
    history = json.loads((trained / "train_summary.json").read_text())
    assert history["selftrain_rounds"] == 1
    from textcycle.checkpoint import latest_checkpoint, load_checkpoint

    info = load_checkpoint(latest_checkpoint(trained / "checkpoints"), {}, {})
    rows = info["history"]
    assert any(r.get("phase") == "selftrain-round" and "selftrain/kept_to1" in r for r in rows)
    assert any(r.get("phase") == "selftrain" and "selftrain/pair_to1" in r for r in rows)


def test_model_card_states_the_steps_each_phase_took():
    from textcycle.text.model_card import schedule

    full = {"steps": 1700, "warm_steps": 1000, "selftrain_rounds": 12, "selftrain_steps": 50}
    assert schedule(full) == "1700 steps (1000 warm start + 600 self-training in 12 rounds + 100 cycle-RL)"
    cut = {**full, "steps": 1320, "stopped_by_time_limit": True}  # stopped in round 7
    assert schedule(cut) == (
        "1320 steps (1000 warm start + 320 self-training in 7 rounds + 0 cycle-RL), stopped by the config's time limit"
    )
    assert schedule({"steps": 1250, "warm_steps": 1100}) == "1250 steps (1100 warm start + 150 cycle-RL)"
    ended = {**full, "steps": 1820, "selftrain_rounds": 8, "selftrain_steps": 100, "selftrain_cut_by_time_limit": True}
    assert schedule(ended) == (
        "1820 steps (1000 warm start + 800 self-training in 8 rounds + 20 cycle-RL), "
        "self-training ended by the config's time limit to leave time for cycle-RL"
    )


def test_a_run_stopped_by_hand_is_summarised_from_its_newest_checkpoint(tmp_path):
    """No train_summary.json (the run was stopped): the card's figures come from the newest
    checkpoint's record and the run's config, and say it was stopped."""
    import json

    from textcycle.text.model_card import run_summary, schedule

    run = tmp_path / "run"
    for step, g in ((1450, 69.1), (1500, 69.75)):
        (run / "checkpoints" / f"step-{step:06d}").mkdir(parents=True)
        state = {"step": step, "best_g": g, "seconds": 9380.0, "rounds": 10}
        (run / "checkpoints" / f"step-{step:06d}" / "state.json").write_text(json.dumps(state))
    (run / "config.yaml").write_text("train:\n  warm_steps: 800\n  selftrain_steps: 100\n")
    s = run_summary(run)
    assert (s["steps"], s["train_seconds"], s["best_dev_G"]) == (1500, 9380.0, 69.75)
    assert schedule(s) == (
        "1500 steps (800 warm start + 700 self-training in 7 rounds + 0 cycle-RL), "
        "stopped by hand at its step-1500 checkpoint"
    )
    (run / "train_summary.json").write_text('{"steps": 1900}')
    assert run_summary(run) == {"steps": 1900}  # a finished run's own summary wins
    assert run_summary(tmp_path / "empty") == {}
