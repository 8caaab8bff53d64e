"""The decoding options of a rewrite (beam, sampling, rerank, seed): their ranges, and the
combinations refused because one option would silently lose (the command line, the Rewriter and
the server check the same way)."""

from __future__ import annotations

import math

from .errors import TextcycleError

MAX_BEAM, MAX_RERANK = 16, 64
MAX_SEED = 2**32 - 1  # CTranslate2 takes an unsigned 32-bit seed


def check_seed(seed: int) -> int:
    """A random seed both engines take (CTranslate2: unsigned 32 bits), or a one-line error."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise TextcycleError(f"--seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    return seed


def check_decoding(beam: int, sample: bool, temperature: float, rerank: int) -> None:
    """Decoding options in range, and no combination where one option would silently lose."""
    if not 1 <= beam <= MAX_BEAM:
        raise TextcycleError(f"--beam must be from 1 to {MAX_BEAM}, got {beam}")
    if not 1 <= rerank <= MAX_RERANK:
        raise TextcycleError(f"--rerank must be from 1 to {MAX_RERANK}, got {rerank}")
    if not (math.isfinite(temperature) and 0 < temperature <= 100):
        raise TextcycleError(f"--temperature must be a number above 0 and at most 100, got {temperature}")
    if beam > 1 and sample:
        raise TextcycleError("--beam and --sample do not combine: beam search is deterministic")
    if beam > 1 and rerank > 1:
        raise TextcycleError("--beam and --rerank do not combine: --rerank scores greedy + sampled candidates")
    if sample and rerank > 1:
        raise TextcycleError("--sample and --rerank do not combine: --rerank already samples its candidates")
