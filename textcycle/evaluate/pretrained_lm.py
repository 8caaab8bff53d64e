"""Fluency under a pretrained LM: perplexity of outputs under SmolLM2-135M-Instruct, beside "our LM".

The field reports GPT-2 perplexity; our 7.6M-parameter LM of the Yelp training split cannot tell
fluent text from broken text the way a pretrained one can. No GPT-2 installs offline, so the
column uses the base the LM generators stand on (`text.lm_base`, from the pinned wheel): a
generator built on the same LM is favoured by it, which the leaderboard says.

The base runs on CTranslate2 (int8; built once into the user cache from the plain base, like the
LM engine's copy). A text is scored as given, after `<|endoftext|>` (Gemma: `<bos>`): every predicted BPE token
counts, and PPL = exp(summed negative log-likelihood / tokens). The leaderboard's outputs are
lowercased and tokenised, as every system's, so each row pays the same for that. Scores are kept
in the cache by the digest of the texts: the published systems are scored once.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

from tqdm import tqdm

from ..cache import cache_root
from ..engines.lm import score_rows, scores_in_batches
from ..engines.lm_convert import converted_base
from ..errors import TextcycleError
from ..text.lm_format import TOKENIZER

BASE = "smollm2-135m"
START = "<|endoftext|>"


class PretrainedLM:
    """`nll(texts)` -> (summed NLL in nats, predicted tokens) per text, as `lm.LanguageModel`."""

    def __init__(self, ct2_folder: str | Path, threads: int = 2, batch_size: int = 32, start: str = START):
        import ctranslate2
        from tokenizers import Tokenizer

        self.folder = Path(ct2_folder)
        self.generator = ctranslate2.Generator(str(self.folder), device="cpu", intra_threads=max(1, threads))
        self.tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER))
        self.batch_size, self.start = batch_size, start
        self.batched = scores_in_batches(self.folder)
        self.name = self.folder.parent.name

    @classmethod
    def load(cls, name: str = BASE, threads: int = 2) -> "PretrainedLM":
        from ..text.lm_base import BASES

        try:
            return cls(converted_base(name), threads, start=BASES[name].text_start if name in BASES else START)
        except ImportError as e:
            raise TextcycleError(f"the pretrained-LM perplexity needs {e.name}: pip install -e '.[lm]'") from None

    def nll(self, texts: list[str]) -> list[tuple[float, int]]:
        saved = self._saved(texts)
        if saved is not None:
            return saved
        rows = [[self.start] + self.tokenizer.encode(t, add_special_tokens=False).tokens for t in texts]
        out = [(0.0, 0)] * len(rows)  # an empty text predicts nothing
        todo = [i for i, r in enumerate(rows) if len(r) > 1]
        batches = range(0, len(todo), self.batch_size)
        for b in tqdm(batches, desc=f"scoring under {self.name}", file=sys.stderr, disable=len(todo) < 2000):
            chunk = todo[b : b + self.batch_size]
            for i, r in zip(chunk, score_rows(self.generator, [rows[i] for i in chunk], batched=self.batched)):
                out[i] = (-float(sum(r.log_probs)), len(r.log_probs))
        self._save(texts, out)
        return out

    def perplexity(self, texts: list[str]) -> float:
        pairs = self.nll(texts)
        n = sum(c for _, c in pairs)
        return math.exp(sum(s for s, _ in pairs) / n) if n else float("nan")

    # ---- the scores kept in the cache, by the texts' digest ----------------------------------
    def _key(self, texts: list[str]) -> Path:
        h = hashlib.sha256(json.dumps([self.name, texts], ensure_ascii=False).encode()).hexdigest()[:24]
        return cache_root() / "ppl-scores" / f"{h}.json"

    def _saved(self, texts: list[str]):
        try:
            rows = json.loads(self._key(texts).read_text(encoding="utf-8"))
            if len(rows) == len(texts):
                return [(float(a), int(c)) for a, c in rows]
        except (OSError, ValueError, TypeError):
            pass
        return None

    def _save(self, texts: list[str], rows: list) -> None:
        from ..files import atomic_write_text

        try:
            f = self._key(texts)
            f.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(f, json.dumps(rows))
        except OSError:
            pass  # a cache that cannot be written only costs the next run the time again
