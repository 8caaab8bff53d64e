"""Baselines and the REINFORCE loss: pure functions over tensors.

These are the parts of the method most likely to be subtly wrong, so they live here as small
functions, each with a test on hand-computed numbers (tests/text/test_rl.py). The warm start's
style lexicon and noise are `textcycle.text.noise`.
"""

from __future__ import annotations

import torch

# ---------------------------------------------------------------- baselines and the policy gradient
# (the reward itself, shared with the rewriter, is `textcycle.reward`)


def mean_baseline(rewards: torch.Tensor, k: int) -> torch.Tensor:
    """Baseline for each of K samples: the mean reward of the *other* K-1 samples of the same
    source (leave-one-out keeps the gradient estimate unbiased). `rewards` is [B*K], rows of
    one source adjacent."""
    r = rewards.view(-1, k)
    if k == 1:
        return torch.zeros_like(rewards)
    loo = (r.sum(1, keepdim=True) - r) / (k - 1)
    return loo.reshape(-1)


def reinforce_loss(logprob_sum: torch.Tensor, rewards: torch.Tensor, baseline: torch.Tensor) -> torch.Tensor:
    """-mean((r - b) * log p(sample)); the advantage carries no gradient."""
    adv = (rewards - baseline).detach()
    return -(adv * logprob_sum).mean()
