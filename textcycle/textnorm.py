"""Turning natural text into a corpus's form and back.

The Yelp corpus (Shen et al.) is lowercased and tokenised: punctuation split off (`good .`),
clitics split (`it 's`, `was n't`), numbers as `_num_`. Users type natural text, and human
references are natural text too, so every system output and reference goes through
`yelp_tokenize` before scoring, and rewrites go through `yelp_detokenize` before printing.
Chinese text is kept as characters (SentencePiece needs no word segmentation); only width and
whitespace are normalised.
"""
from __future__ import annotations

import re
import unicodedata

# clitics as the Yelp corpus splits them: "don't" -> "do n't", "it's" -> "it 's"
_NT = re.compile(r"(\w)n['’`]t\b", re.IGNORECASE)
_CLITIC = re.compile(r"(\w)['’`](s|re|ve|ll|d|m)\b", re.IGNORECASE)
_PUNCT = re.compile(r"([.,!?;:()\"\[\]{}…~*&%$#@^+=/\\|<>])")
_QUOTE = re.compile(r"(^|\s)['`’](?!(?:s|re|ve|ll|d|m)\b)|(?<!n)['`’](\s|$)")
_NUM = re.compile(r"(?<![\w])\d+(?:[.,:/]\d+)*(?![\w])")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\ufeff]")


def clean(text: str) -> str:
    """Drop control characters and byte-order marks; fold runs of white space."""
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def yelp_tokenize(text: str, numbers: bool = True) -> str:
    """Lowercase and tokenise like the Shen et al. Yelp files.

    Idempotent on text that is already in corpus form ("it 's good ." stays the same).
    """
    text = clean(text).lower()
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    text = text.replace("can't", "ca n't").replace("won't", "wo n't")
    text = _NT.sub(r"\1 n't", text)
    text = _CLITIC.sub(r"\1 '\2", text)
    text = _PUNCT.sub(r" \1 ", text)
    text = re.sub(r"\.\s+\.\s+\.", " ... ", text)
    text = re.sub(r"(?<=\s)-(?=\s)|--+", " - ", text)
    text = _QUOTE.sub(r"\1 ' \2", text)
    if numbers:
        text = _NUM.sub("_num_", text)
    return _SPACES.sub(" ", text).strip()


def yelp_detokenize(text: str) -> str:
    """Undo the corpus tokenisation for display: "it 's good ." -> "It's good."."""
    text = text.replace(" n't", "n't").replace("ca n't", "can't").replace("wo n't", "won't")
    text = re.sub(r"can't", "can't", text)
    text = re.sub(r" '(s|re|ve|ll|d|m)\b", r"'\1", text)
    text = re.sub(r"\s+([.,!?;:%)\]])", r"\1", text)
    text = re.sub(r"([(\[$])\s+", r"\1", text)
    text = text.replace("_num_", "#")
    text = re.sub(r"\bi\b", "I", text)
    text = _SPACES.sub(" ", text).strip()
    # capitalise the first letter of each sentence
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def zh_normalize(text: str) -> str:
    """Normalise Chinese text: NFKC folds full-width ASCII, keeps CJK punctuation's meaning."""
    text = clean(text)
    text = unicodedata.normalize("NFKC", text)
    return _SPACES.sub(" ", text).strip()


def normalize(text: str, language: str = "en") -> str:
    """Bring user text into the corpus form of `language` ("en": Yelp-style, "zh": Chinese)."""
    if language == "zh":
        return zh_normalize(text)
    return yelp_tokenize(text)


def denormalize(text: str, language: str = "en") -> str:
    if language == "zh":
        return text.replace(" ", "") if re.search(r"[\u4e00-\u9fff]", text) else text
    return yelp_detokenize(text)
