"""The small models' engines speak texts and compute in SentencePiece ids: this is the text side.

`SentencePieceTexts` turns the engine interface (`engines.base.Engine`, texts in corpus form)
into the id methods an engine defines (`generate_ids`, `style_logits_ids`, `logprobs_ids`), with
the folder's SentencePiece model: a text is its pieces cut to max_length - 1, then `</s>`, as in
training (`vocab.encode_ids`); an output is decoded and given the corpus form back
(`textnorm.decoded_to_corpus_form`).
"""

from __future__ import annotations

import numpy as np

from ..text.textnorm import decoded_to_corpus_form
from ..text.vocab import UNK_ID, decode_ids, encode_ids
from .base import Hypothesis


class SentencePieceTexts:
    """Mixed into an engine with `sp`, `max_length`, `language` and the id methods."""

    sp = None
    max_length: int = 40
    language: str = "en"

    def encode(self, texts: list[str]) -> list[list[int]]:
        """SentencePiece ids of each text (corpus form), cut to max_length - 1, then `</s>`."""
        return encode_ids(self.sp, texts, self.max_length)

    def decode(self, rows: list[list[int]]) -> list[str]:
        """Corpus-form text of id lists (stops at `</s>`, drops the special ids)."""
        return decoded_to_corpus_form(decode_ids(self.sp, rows), self.language)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Ids of each text: this engine's own hypotheses keep the ids they were generated as,
        the rest are encoded (`encode`)."""
        out = [t.ids if isinstance(t, Hypothesis) and t.owner is self else None for t in texts]
        todo = [i for i, ids in enumerate(out) if ids is None]
        if todo:
            for i, ids in zip(todo, self.encode([texts[i] for i in todo])):
                out[i] = ids
        return out

    def hypotheses(self, rows: list[list[list[int]]]) -> list[list[Hypothesis]]:
        """Generated id lists (per source, its hypotheses) as texts that remember their ids."""
        flat = [ids for row in rows for ids in row]
        texts = iter(self.decode(flat))
        return [[Hypothesis(next(texts), ids, self) for ids in row] for row in rows]

    # ------------------------------------------------------------ the engine interface
    def generate(self, texts: list[str], to: int, **options) -> list[list[Hypothesis]]:
        return self.hypotheses(self.generate_ids(self.token_ids(texts), to, **options))

    def generate_many(self, requests: list[tuple[list[str], int]], **options) -> list[list[list[Hypothesis]]]:
        rows = self.generate_many_ids([(self.token_ids(texts), to) for texts, to in requests], **options)
        return [self.hypotheses(r) for r in rows]

    def generate_many_ids(self, requests, **options):
        """`generate_ids` for each request in turn (engines that run them side by side override it)."""
        return [self.generate_ids(ids, to, **options) for ids, to in requests]

    def style_logits(self, texts: list[str]) -> np.ndarray:
        return self.style_logits_ids(self.token_ids(texts))

    def logprobs(self, sources: list[str], targets: list[str], to: int) -> np.ndarray:
        return self.logprobs_ids(self.token_ids(sources), self.token_ids(targets), to)

    def count_unknown(self, text: str) -> tuple[int, int]:
        ids = self.sp.encode(text)
        return sum(i == UNK_ID for i in ids), len(ids)
