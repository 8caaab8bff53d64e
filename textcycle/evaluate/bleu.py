"""BLEU with sacrebleu on one common normalisation, and the aggregate scores G and HM.

Every hypothesis, source and reference goes through `bleu_normalize` = lowercase + Yelp/PTB-style
tokenisation (`textnorm.yelp_tokenize`, digits kept): corpus-form text (the Yelp sources, the
tokenised references4, most system outputs) is left unchanged, and natural text (the cased Li
et al. reference, LEWIS's partly detokenised output) gets the same form, so every system is
compared on equal terms. BLEU is sacrebleu's `corpus_bleu` with `tokenize="none"` on that
pre-tokenised text (`force=True`), i.e. multi-bleu.perl settings: 4-grams, no smoothing,
corpus-level brevity penalty, closest reference length. These settings reproduce DualRL's
published 4-reference BLEU (55.2, direction average) from its released outputs; sacrebleu's
default `13a` tokeniser would re-split the already tokenised text and move scores by ~0.1-0.3.
"""
from __future__ import annotations

import math

import sacrebleu

from ..textnorm import yelp_tokenize

SACREBLEU_SETTINGS = {"tokenize": "none", "force": True, "smooth_method": "none", "lowercase": False}


def bleu_normalize(text: str) -> str:
    """The normal form used for all surface metrics: lowercased, Yelp/PTB-tokenised, digits kept."""
    return yelp_tokenize(text, numbers=False)


def corpus_bleu(hyps: list[str], refs: list[list[str]]) -> float:
    """Corpus BLEU (percent) of normalised `hyps` against one or more normalised reference lists."""
    if not hyps:
        raise ValueError("no hypotheses")
    for r in refs:
        if len(r) != len(hyps):
            raise ValueError(f"{len(hyps)} hypotheses but a reference list of {len(r)}")
    return sacrebleu.corpus_bleu(hyps, refs, **SACREBLEU_SETTINGS).score


def g_score(acc: float | None, bleu: float | None) -> float | None:
    """Geometric mean sqrt(ACC x BLEU); both in percent, so G is in percent."""
    if acc is None or bleu is None:
        return None
    return math.sqrt(max(acc, 0.0) * max(bleu, 0.0))


def harmonic_mean(acc: float | None, bleu: float | None) -> float | None:
    """2 x ACC x BLEU / (ACC + BLEU), in percent (0 when both are 0)."""
    if acc is None or bleu is None:
        return None
    if acc + bleu <= 0:
        return 0.0
    return 2.0 * acc * bleu / (acc + bleu)
