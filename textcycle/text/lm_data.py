"""Corpus sentences in the form the LM generators read and write: natural, cased text with real
numbers. A Chinese corpus is in that form already (`textnorm.zh_normalize` keeps numbers and
casing), so `natural` and `fill_pair` leave its sentences as they are.

The Yelp corpus is lowercased, tokenised, and writes every number as `_num_`. The LM reads text as
people write it, so each corpus sentence is detokenised (`textnorm.yelp_detokenize`) and each
`_num_` becomes a plausible number for its context (a price after `$`, a time around `:`, a count
of minutes...). A pair gets the same numbers on both sides, in order, so the generators learn to
copy numbers exactly; a pair whose target has more or fewer numbers than its source would teach
inventing or dropping one, and is dropped (`fill_pair` returns None).
"""

from __future__ import annotations

import random
import re
from typing import Optional

from .keep import invented_loop, same_numbers
from .noise import noise_words, swap_markers
from .textnorm import NUMBER_PLACEHOLDER, yelp_detokenize

_NUM = re.escape(NUMBER_PLACEHOLDER)
_TIME = re.compile(rf"{_NUM} : {_NUM}")
_UNIT_RANGES = (  # (pattern after the number, low, high)
    (re.compile(r"\s+(minutes?|mins?)\b"), 5, 90),
    (re.compile(r"\s+(hours?|hrs?)\b"), 1, 4),
    (re.compile(r"\s+(stars?)\b"), 1, 5),
    (re.compile(r"\s+(days?|weeks?|months?|years?|times?|people|friends|kids|dollars?|bucks)\b"), 2, 20),
    (re.compile(r"\s+%"), 10, 90),
)


def _number_for(text: str, end: int, before: str, rng: random.Random) -> str:
    """A number that reads naturally where `_num_` ends at `end` in `text`."""
    if before.endswith("$ "):
        return str(rng.choice([5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 100])) + rng.choice(["", "", ".99", ".50"])
    after = text[end:]
    for pattern, low, high in _UNIT_RANGES:
        if pattern.match(after):
            return str(rng.randint(low, high))
    return str(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 45, 50, 100, 200, 2015]))


def draw_numbers(text: str, rng: random.Random) -> list[str]:
    """Values for each `_num_` of a corpus sentence, in order ("6:30"-style times take two)."""
    values, pos = [], 0
    times = {m.start(): m.end() for m in _TIME.finditer(text)}
    for m in re.finditer(_NUM, text):
        if m.start() < pos:
            continue
        if m.start() in times:
            values += [str(rng.randint(1, 12)), rng.choice(["00", "15", "30", "45"])]
            pos = times[m.start()]
        else:
            values.append(_number_for(text, m.end(), text[: m.start()], rng))
            pos = m.end()
    return values


def fill(text: str, values: list[str]) -> str:
    """A corpus sentence in natural form, its `_num_`s replaced by `values` in order."""
    it = iter(values)
    text = re.sub(_TIME, lambda m: "_num_:_num_", text)
    filled = re.sub(_NUM, lambda m: next(it, "some"), text)
    return yelp_detokenize(filled)


_NT = re.compile(r"\b(\w+)n't\b", re.IGNORECASE)
_NT_STEMS = {
    "do",
    "does",
    "did",
    "is",
    "was",
    "were",
    "are",
    "could",
    "would",
    "should",
    "ca",
    "wo",
    "have",
    "has",
    "had",
    "ai",
    "need",
    "must",
    "might",
}


def well_formed(text: str) -> bool:
    """False for a natural-form text with a broken contraction: a model that writes `n't` after
    any word ("very n't") detokenises to "veryn't", which a pseudo-pair must not teach."""
    return all(m.group(1).lower() in _NT_STEMS for m in _NT.finditer(text))


def usable_rewrite(source: str, rewrite: str, allow_appends: bool = True) -> bool:
    """Whether a natural-form `rewrite` of `source` may teach the generators: not empty, not a
    copy, the source's number strings exactly and each with its unit, no loop the source has not
    (`keep`), no broken contraction (`well_formed`) and, unless `allow_appends`, not
    `appends_only`. Style and content are the reward's to judge."""
    return (
        bool(rewrite.strip())
        and (allow_appends or not appends_only(source, rewrite))
        and rewrite != source
        and same_numbers(source, rewrite)
        and not invented_loop(source, rewrite)
        and well_formed(rewrite)
    )


def appends_only(source: str, rewrite: str) -> bool:
    """Whether `rewrite` is the whole of `source` with words only added before or after it (`好啊`
    -> `好啊 垃圾你`): a frozen discriminator pays for a pasted style word, and self-training on
    such candidates teaches pasting instead of rewriting (docs/ptt-and-chinese.md). Spaces are
    ignored: `3406ㄎㄚ` -> `3406 ㄎㄚ 純噓噓` is pasting too."""
    s, r = "".join(source.split()), "".join(rewrite.split())
    return bool(s) and r != s and s in r


def lexicon_pair(
    sentence: str,
    style: int,
    lexicon: list,
    rng: random.Random,
    word_drop: float,
    shuffle_window: int,
    language: str = "en",
) -> Optional[tuple[str, str, int]]:
    """The small method's denoising warm start as a pseudo-pair (x, y, style), natural form: y a
    corpus-form training `sentence` of `style`, x the same with its style markers swapped for the
    other style's, drawn uniformly as the small method's default (`lexicon`: per style, (its
    markers, their set)) and words dropped and shuffled; None when the noise dropped a number
    (x -> y would teach inventing one)."""
    words = swap_markers(sentence.split(), lexicon[style][1], lexicon[1 - style][0], rng)
    words = noise_words(words, rng, word_drop, 0.0, shuffle_window)
    pair = fill_pair(" ".join(words), sentence, rng, language)
    return (*pair, style) if pair else None


def natural(text: str, rng: random.Random, language: str = "en") -> str:
    """One corpus sentence in natural form with drawn numbers."""
    if language != "en":
        return text
    return fill(text, draw_numbers(text, rng))


def fill_pair(source: str, target: str, rng: random.Random, language: str = "en") -> Optional[tuple[str, str]]:
    """A corpus-form pair in natural form with the same numbers on both sides; None when the two
    have different counts of numbers (the teacher wrote "$ _num_" as "$ great": a pair that
    teaches dropping a number)."""
    if language != "en":
        return source, target
    values = draw_numbers(source, rng)
    if target.count(NUMBER_PLACEHOLDER) != source.count(NUMBER_PLACEHOLDER):
        return None
    return fill(source, values), fill(target, values)
