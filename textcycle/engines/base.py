"""The engine interface: what the Rewriter asks of a model's networks, whatever runs them.

An engine speaks texts in the model's own input form (the corpus form for the small seq2seq
models: Yelp-tokenised lowercase English, normalised Chinese; natural text for an LM model) and
owns its tokenizer, so no token id crosses this line. The generator into style `to` (0 or 1)
rewrites; the discriminator judges. Engines of a model folder are made by `engines.load`.

The trainer's self-training pairs (`selftrain.make_pairs`) are token ids, so the small models'
engines also have the same methods on ids (`generate_ids`, `style_logits_ids`, `logprobs_ids`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Hypothesis(str):
    """A generated text that keeps its engine's own token ids of it (`ids`, from `owner`).

    Scoring a hypothesis again (the reranker's reward) then reads exactly what the generator
    wrote: decoding and tokenising again can give other pieces (a split the tokenizer would not
    make, an <unk>, a cut at the model's length), which changed 9 of 2,000 reranked Yelp test
    rewrites. An engine reads `ids` only from its own hypotheses; to every other reader it is a str.
    """

    def __new__(cls, text: str, ids=None, owner=None):
        h = super().__new__(cls, text)
        h.ids, h.owner = ids, owner
        return h


class Engine(Protocol):
    """What the Rewriter needs; `TorchEngine` (the reference), `CT2Engine` (the default) have it.

    A new engine (an LM's, another runtime's) is a class with these methods and a
    `from_folder(folder: ModelFolder, threads=...)`, chosen in `engines.load`, with a parity test
    against the reference in tests/engines/."""

    name: str
    # its time per token against the small model's CTranslate2 engine (1), measured in bench/:
    # the server's admission counts a text's work by it (`serve.work.text_cost`)
    cost_factor: int

    def set_seed(self, seed: int) -> None:
        """Make the following sampling calls reproducible."""

    def generate(
        self,
        texts: list[str],
        to: int,
        beam: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
        num_hypotheses: int = 1,
    ) -> list[list[Hypothesis]]:
        """Per text, `num_hypotheses` rewrites into style `to`: the beam's best (greedy at beam 1),
        or samples at `temperature`."""

    def generate_many(self, requests: list[tuple[list[str], int]], **options) -> list[list[list[Hypothesis]]]:
        """`generate(texts, to, **options)` for each `(texts, to)`, side by side where the engine can."""

    def style_logits(self, texts: list[str]) -> np.ndarray:
        """The discriminator's logits, float32 [n, 3]: style 0, style 1, generated."""

    def logprobs(self, sources: list[str], targets: list[str], to: int) -> np.ndarray:
        """Mean log p(targets[i] | sources[i]) per token, float32 [n], under the generator into
        style `to`. The content reward of rewrites y of x (style s) is `logprobs(y, x, s)`."""

    def count_unknown(self, text: str) -> tuple[int, int]:
        """(tokens the model's vocabulary lacks, all tokens) of `text`: whether it can read it."""
