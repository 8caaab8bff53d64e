"""The training reward (textcycle.text.reward) on hand-computed numbers, for torch and numpy alike,
and the reranker scoring candidates with exactly that reward."""

import math

import numpy as np
import pytest
import torch

from textcycle.text.reward import combine_rewards, content_reward, style_reward, training_reward


def test_style_reward_uses_all_three_classes():
    # logits: style 0, style 1, generated = log 1, log 3, log 1 -> p(style 1) = 3/5 (not 3/4)
    logits = [[0.0, math.log(3), 0.0]]
    assert style_reward(np.array(logits), 1)[0] == pytest.approx(0.6)
    assert style_reward(torch.tensor(logits), 1).item() == pytest.approx(0.6)


def test_training_reward_is_the_same_on_numpy_and_torch():
    logits = [[0.2, 1.5, -0.3], [2.0, -1.0, 0.5]]
    recon = [math.log(0.5), -2.0]
    a = training_reward(np.array(logits), np.array(recon), 1, 1.0, 2.0)
    b = training_reward(torch.tensor(logits), torch.tensor(recon), 1, 1.0, 2.0)
    assert np.allclose(a, b.numpy(), atol=1e-6)
    # by hand, first row: s = softmax[1], c = 0.5, b^2 = 2: 3sc / (2s + c)
    z = np.exp(logits[0])
    s = z[1] / z.sum()
    assert a[0] == pytest.approx(3 * s * 0.5 / (2 * s + 0.5))


def test_combine_and_content_on_numpy():
    assert combine_rewards(np.array([0.8]), np.array([0.4]))[0] == pytest.approx(0.64 / 1.2)
    assert content_reward(np.array([math.log(0.5), 0.3])).tolist() == pytest.approx([0.5, 1.0])


class ThreeWayEngine:
    """An engine on texts alone (the interface needs no token ids): every candidate is the source,
    with logits (log 1, log 3, log 1) and reconstruction log-prob log 0.5."""

    name = "fixed"

    def set_seed(self, seed):
        pass

    def style_logits(self, texts):
        return np.array([[0.0, math.log(3), 0.0]] * len(texts))

    def generate(self, texts, to, beam=1, sample=False, temperature=1.0, num_hypotheses=1):
        return [[t] * num_hypotheses for t in texts]

    def generate_many(self, requests, **options):
        return [self.generate(texts, to, **options) for texts, to in requests]

    def logprobs(self, sources, targets, to):
        return np.full(len(sources), math.log(0.5))

    def count_unknown(self, text):
        return 0, len(text.split())


def test_rerank_scores_with_the_training_reward():
    # bug: the reranker renormalised the first two logits (p = 3/4 -> score 0.6); training uses the
    # 3-way softmax (p = 3/5): harmonic mean with content 0.5 is 2 * 0.6 * 0.5 / 1.1
    from textcycle.rewriter import Rewriter

    info = {"style_names": ["negative", "positive"], "language": "en", "max_length": 24}
    rw = Rewriter(engine=ThreeWayEngine(), info=info)
    [(texts, scores)] = rw.candidates([(["the food was cold ."], 1)], n=3)
    assert scores.shape == (1, 3) and len(texts[0]) == 3
    assert scores[0, 0] == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    # the model folder's reward weights are used
    rw.reward = {"style_weight": 1.0, "content_weight": 4.0}
    [(_, scores)] = rw.candidates([(["the food was cold ."], 1)], n=2)
    assert scores[0, 0] == pytest.approx(5 * 0.6 * 0.5 / (4 * 0.6 + 0.5))
    assert rw.rewrite("the food was cold .", rerank=3) == "The food was cold."
