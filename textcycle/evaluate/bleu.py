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
from typing import Optional, Sequence

import sacrebleu

from ..errors import TextcycleError
from ..text.textnorm import denormalize, yelp_tokenize, zh_convert

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


def self_bleu(hyps: list[str], sources: list[str], language: str) -> float:
    """BLEU of rewrites against their sources (content kept, where no human rewrites exist):
    sacrebleu's `zh` tokenizer for Chinese, the common normal form otherwise."""
    if language == "zh":
        return zh_bleu(hyps, sources)
    return corpus_bleu([bleu_normalize(h) for h in hyps], [[bleu_normalize(s) for s in sources]])


# ---------------------------------------------------------------- Chinese
# sacrebleu's tokenize="zh": one token per CJK character, Latin words kept whole; an optional
# OpenCC conversion of both sides first.


def _streams(references, n: int) -> list[list[Optional[str]]]:
    """One reference per hypothesis, or a list of references per hypothesis -> sacrebleu streams."""
    if len(references) != n:
        raise TextcycleError(f"{n} hypotheses but {len(references)} references")
    per_hyp = [[r] if isinstance(r, str) else list(r) for r in references]
    k = max((len(r) for r in per_hyp), default=1)
    if k == 0:
        raise TextcycleError("no references given")
    return [[r[j] if j < len(r) else None for r in per_hyp] for j in range(k)]


def _prep(text: Optional[str], convert: Optional[str]) -> Optional[str]:
    if text is None:
        return None
    return zh_convert(denormalize(text, "zh"), convert)


def zh_bleu(hypotheses: Sequence[str], references: Sequence, convert: Optional[str] = None) -> float:
    """Corpus BLEU (0-100) for Chinese, sacrebleu `tokenize="zh"`.

    `references`: one string per hypothesis, or a list of strings per hypothesis (any number).
    `convert`: an OpenCC conversion applied to both sides first (e.g. "t2s" when a Traditional
    system is scored against Simplified references). Spaces next to CJK characters are ignored.
    """
    hyps = [_prep(h, convert) for h in hypotheses]
    streams = [[_prep(r, convert) for r in stream] for stream in _streams(references, len(hyps))]
    return sacrebleu.corpus_bleu(hyps, streams, tokenize="zh").score


def zh_sentence_bleu(hypothesis: str, references, convert: Optional[str] = None) -> float:
    """Sentence BLEU (0-100, smoothed as sacrebleu's default) for one Chinese hypothesis."""
    refs = [references] if isinstance(references, str) else list(references)
    return sacrebleu.sentence_bleu(_prep(hypothesis, convert), [_prep(r, convert) for r in refs], tokenize="zh").score


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
