"""The training reward of a rewrite: one function for training and for `--rerank`.

It works on torch tensors (training, the torch engine) and on numpy arrays (the CTranslate2
engine, which must not import torch), so both paths score candidates with the same numbers.
Tests on hand-computed values: tests/test_reward.py.
"""

from __future__ import annotations

import numpy as np


def _exp(x):
    return np.exp(x) if isinstance(x, np.ndarray) else x.exp()


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def style_reward(disc_logits, target: int):
    """p_D(target | sentence) from the discriminator's three classes (style 0, style 1,
    generated): a sentence that looks generated earns little even in the right style."""
    if isinstance(disc_logits, np.ndarray):
        return _softmax(disc_logits)[:, target]
    return disc_logits.float().softmax(-1)[:, target]


def detected_style_probs(disc_logits: np.ndarray) -> np.ndarray:
    """[n, 2] p(style 0), p(style 1) with the 'generated' class left out: which style a text is
    in (detection and the rewrite's style probability), not the reward."""
    return _softmax(np.asarray(disc_logits)[:, :2])


def content_reward(recon_logprob_mean):
    """Back-translation content reward: the per-token probability (geometric mean) with which
    the other generator reconstructs the source from the sample, exp(mean log p) in (0, 1]."""
    return _exp(recon_logprob_mean.clip(max=0))


def combine_rewards(style, content, style_weight: float = 1.0, content_weight: float = 1.0):
    """Weighted harmonic mean of a style reward and a content reward, both in [0, 1].

    (1 + b^2) s c / (b^2 s + c) with b^2 = content_weight / style_weight. A harmonic mean is
    small whenever either part is small, so a fluent copy in the wrong style (s ~ 0) earns
    about nothing, and so does a sentence in the right style that lost the content (c ~ 0).
    """
    b2 = content_weight / style_weight
    return (1 + b2) * style * content / (b2 * style + content).clip(min=1e-8)


def training_reward(
    disc_logits, recon_logprob_mean, target: int, style_weight: float = 1.0, content_weight: float = 1.0
):
    """The reward of rewrites into style `target`: `combine_rewards` of the style reward and the
    content reward (mean log p of the source given the rewrite, under the other generator)."""
    return combine_rewards(
        style_reward(disc_logits, target), content_reward(recon_logprob_mean), style_weight, content_weight
    )
