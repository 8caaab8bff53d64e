"""The warm start's noise: the style lexicon (marker words by salience) and what makes a real
sentence of one style look like the other (markers swapped or dropped, then denoising-autoencoder
noise). Pure functions over word or piece lists, each with a test on hand-computed numbers
(tests/text/test_rl.py).
"""

from __future__ import annotations

import math
import random
from collections import Counter

from .textnorm import NUMBER_PLACEHOLDER


def style_lexicon(
    sents0: list[str],
    sents1: list[str],
    smoothing: float = 1.0,
    ratio: float = 4.0,
    min_count: int = 5,
    max_size: int = 2000,
) -> tuple[dict[str, int], dict[str, int]]:
    """Style-marker words of each style by salience (Li et al. 2018):
    (count in style s + smoothing) / (count in the other style + smoothing) >= `ratio`.
    Returns, per style, its markers -> the number of its sentences that have them, most
    salient first.

    The other style's count is scaled by the ratio of corpus sizes, so a word used at the same
    rate in both styles is no marker however unbalanced the corpus (before 2026-12-03 the scale
    was inverted: on Yelp, 98k positive and 69k negative sentences, it took "food" and "staff"
    for positive markers and left out "never" and "okay" as negative ones). Numbers (`_num_`)
    are content, never markers: as a negative marker, the generator learned to write a price
    in place of a positive word ("the $ _num_ texture").
    """
    c0, c1 = Counter(), Counter()
    for s in sents0:
        c0.update(set(s.split()))
    for s in sents1:
        c1.update(set(s.split()))
    # the other style's count scaled to this style's corpus size: rates are compared, not counts
    n0, n1 = max(1, len(sents0)), max(1, len(sents1))
    out = []
    for mine, other, sc in ((c0, c1, n0 / n1), (c1, c0, n1 / n0)):
        scored = []
        for w, n in mine.items():
            if n < min_count or not any(ch.isalpha() for ch in w) or w == NUMBER_PLACEHOLDER:
                continue
            sal = (n + smoothing) / (other.get(w, 0) * sc + smoothing)
            if sal >= ratio:
                scored.append((sal * math.log(n), w))
        scored.sort(reverse=True)
        out.append({w: mine[w] for _, w in scored[:max_size]})
    return out[0], out[1]


def noise_words(
    words: list[str], rng: random.Random, drop: float, mask: float, shuffle_window: int, mask_token: str = "<unk>"
) -> list[str]:
    """Denoising-autoencoder noise: drop words, mask words, shuffle within a local window."""
    kept = [w for w in words if rng.random() >= drop] or words[:1]
    kept = [mask_token if rng.random() < mask else w for w in kept]
    if shuffle_window > 1:
        keys = [i + rng.uniform(0, shuffle_window) for i in range(len(kept))]
        kept = [w for _, w in sorted(zip(keys, kept), key=lambda t: t[0])]
    return kept


def swap_markers(
    words: list,
    own: set,
    other: list,
    rng: random.Random,
    p_swap: float = 0.7,
    p_drop: float = 0.3,
    cum_weights: list[float] | None = None,
) -> list:
    """Replace the style markers of a sentence by markers of the other style (or drop them).

    Applied to a real sentence y of style t, the result looks like a sentence of the other style
    with y's content; the pair (noised -> y) teaches the generator into style t to put t's
    markers in place of the source's. The lexicon comes from unpaired counts only. Replacements
    are drawn uniformly from `other`, or by `cum_weights` (cumulative, one per marker): with
    the markers' counts, the noised sentence has the other style's markers as often as its real
    sentences do ("great" far more than "calzones"), as the generator meets them at test time.
    On Yelp that warm start fell into writing generic sentences (docs/training.md, "The style
    lexicon"), so uniform stays the default.
    """
    out = []
    for w in words:
        if w in own:
            r = rng.random()
            if r < p_swap and other:
                out.append(rng.choices(other, cum_weights=cum_weights)[0] if cum_weights else rng.choice(other))
            elif r < p_swap + p_drop:
                continue
            else:
                out.append(w)
        else:
            out.append(w)
    return out or words
