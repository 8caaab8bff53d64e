"""LMEngine: an LM model's generators on CTranslate2, speaking natural text (`base.Engine`).

The generators are one LM prompted with the target style's name (`text.lm_format`). A model
folder holds only its adapter, so the engine runs a derived copy: base and adapter merged and
converted (int8), built on first use into the user cache (`merged_copy`, by `lm_convert`, which
needs torch, peft and the base once) and found again by the digests of the adapter, the base's
name and the quantization. After that the rewrite path has no torch: CTranslate2's `Generator`,
the `tokenizers` library, and the model's discriminator in numpy, which reads a text's corpus
form (normalised, SentencePiece ids), as it did in training.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..cache import cached_folder, file_digest
from ..errors import TextcycleError
from ..model_folder import ModelFolder
from ..text.lm_format import ADAPTER, CHATML, FULL, PROMPT_FORMATS, TOKENIZER, PromptFormat, read_lm_spec
from ..text.textnorm import normalize
from ..text.vocab import encode_ids
from .base import Hypothesis
from .ct2_format import one_line
from .discriminator import NumpyDiscriminator, load_discriminator, logits_by_length

NAME = "ctranslate2-lm"


def _folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(f"{p.relative_to(folder)}:{file_digest(p)}\n".encode())
    return h.hexdigest()


def merged_copy(model_folder: str | Path, base: str | None = None, quantization: str = "int8") -> Path:
    """The cached CTranslate2 copy of an LM model folder's generators (built on first use)."""
    model_folder = Path(model_folder)
    spec = read_lm_spec(model_folder)
    weights = model_folder / (ADAPTER if spec.lora_rank > 0 else FULL)
    if not weights.is_dir():
        raise TextcycleError(f"{model_folder} has no {weights.name}/ folder: not a complete LM model")
    source = f"{_folder_digest(weights)}:{base or spec.base}:{quantization}"
    key = hashlib.sha256(source.encode()).hexdigest()[:16]

    def build(tmp: Path) -> None:
        try:
            from .lm_convert import convert_folder

            convert_folder(model_folder, tmp, base, quantization)
        except ImportError as e:  # the [lm] extra: torch, transformers, peft
            raise TextcycleError(f"building the LM model's fast copy needs {e.name}: pip install -e '.[lm]'") from None
        except TextcycleError:
            raise
        except Exception as e:  # noqa: BLE001 - a corrupt adapter or base: the loaders raise many kinds
            raise TextcycleError(f"{model_folder}: cannot build its fast copy ({one_line(e)})") from None

    return cached_folder(f"lm-{key}", source, build) / "ct2"


def scores_in_batches(ct2_folder: str | Path) -> bool:
    """Whether CTranslate2 can score a batch of this converted LM. Not Gemma (its `<bos>`): its
    Gemma 3 (4.8.5) fails on a batch of two or more ("Length mask has size ... different than the
    current batch size"), and on some batches crashes the process instead of raising, so a
    batch is never tried; one row at a time it scores exactly as torch does."""
    try:
        config = json.loads((Path(ct2_folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return not (isinstance(config, dict) and config.get("bos_token") == "<bos>")


def score_rows(generator, rows: list[list[str]], max_batch_size: int = 64, batched: bool = True) -> list:
    """`generator.score_batch(rows)`, or one row at a time where it cannot batch them
    (`scores_in_batches`)."""
    if batched:
        return generator.score_batch(rows, max_batch_size=max_batch_size)
    return [generator.score_batch([r])[0] for r in rows]


class CorpusFormDiscriminator:
    """The model's discriminator on natural texts: each brought into the corpus form it was
    trained on (casing and number strings carry no style there), then SentencePiece ids."""

    def __init__(self, network: NumpyDiscriminator, sp, language: str, max_length: int):
        self.network, self.sp, self.language, self.max_length = network, sp, language, max_length

    def __call__(self, texts: list[str]) -> np.ndarray:
        ids = encode_ids(self.sp, [normalize(t, self.language) for t in texts], self.max_length)
        return logits_by_length(self.network, ids)


class LMEngine:
    """The style-prompted generators on CTranslate2 and, from a model folder, its discriminator.
    `to` is the index of the target style in `style_names`."""

    name = NAME
    cost_factor = 30  # results/bench_lm.md: its Rewriter 18.2 sentences/s, the small model's 543.1

    def __init__(
        self,
        ct2_folder: str | Path,
        style_names: list[str],
        threads: int = 2,
        max_source_tokens: int = 64,
        max_new_tokens: int = 64,
        seed: int | None = None,
        discriminator: CorpusFormDiscriminator | None = None,
        fmt: PromptFormat = CHATML,
    ):
        from tokenizers import Tokenizer

        self.ct2_folder, self.threads = Path(ct2_folder), max(1, int(threads))
        self.style_names = list(style_names)
        self.max_source_tokens, self.max_new_tokens = max_source_tokens, max_new_tokens
        self.discriminator, self.format = discriminator, fmt
        self._seed, self._sample_calls = None, 0
        if seed is not None:
            _ctranslate2().set_random_seed(seed % 2**32)
        self.generator = self._load()
        self.batched_scoring = scores_in_batches(self.ct2_folder)
        self.tokenizer = Tokenizer.from_file(str(self.ct2_folder / TOKENIZER))
        # the prompt's head and its style part, tokenised once per style
        self._head = self._tokens(fmt.bos + fmt.start)
        self._style_prompt = [self._tokens(f"{fmt.end}\n{fmt.start}{s}\n") for s in self.style_names]

    @classmethod
    def from_folder(cls, folder: ModelFolder, threads: int = 2, quantization: str = "int8") -> "LMEngine":
        from .ct2 import load_sentencepiece

        spec = read_lm_spec(folder.path)
        judge = CorpusFormDiscriminator(
            load_discriminator(folder), load_sentencepiece(folder), folder.language, folder.max_length
        )
        return cls(
            merged_copy(folder.path, quantization=quantization),
            spec.style_names,
            threads,
            spec.max_source_tokens,
            spec.max_new_tokens,
            discriminator=judge,
            fmt=PROMPT_FORMATS[spec.prompt_format],
        )

    def _load(self):
        try:
            return _ctranslate2().Generator(
                str(self.ct2_folder), device="cpu", inter_threads=1, intra_threads=self.threads
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise TextcycleError(f"{self.ct2_folder}: CTranslate2 could not load it ({one_line(e)})") from None

    # ------------------------------------------------------------ texts <-> tokens
    def _tokens(self, text: str) -> list[str]:
        return self.tokenizer.encode(text, add_special_tokens=False).tokens

    def _text_tokens(self, text: str) -> list[str]:
        """A text's tokens; this engine's own hypotheses keep the tokens they were generated as."""
        if isinstance(text, Hypothesis) and text.owner is self:
            return [self.tokenizer.id_to_token(i) for i in text.ids]
        return self._tokens(text)

    def prompt(self, source: str, to: int) -> list[str]:
        if not 0 <= to < len(self.style_names):
            raise TextcycleError(f"style index must be from 0 to {len(self.style_names) - 1}, got {to!r}")
        return self._head + self._text_tokens(source)[: self.max_source_tokens] + self._style_prompt[to]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    # ------------------------------------------------------------ the engine interface
    def set_seed(self, seed: int) -> None:
        """Make the following sampling calls reproducible. CTranslate2 seeds its worker thread
        when the thread starts (as for `CT2Engine.set_seed`), so each seeded sampling call
        reloads the generator (from the page cache) seeded with seed + the call's number."""
        self._seed, self._sample_calls = int(seed), 0

    def generate(
        self,
        texts: list[str],
        to: int,
        beam: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
        num_hypotheses: int = 1,
        max_batch_size: int = 64,
    ) -> list[list[Hypothesis]]:
        """Per text, `num_hypotheses` rewrites into style `to`: samples at `temperature`, or the
        beam's best (greedy at beam 1)."""
        return self._collect(self._start(texts, to, beam, sample, temperature, num_hypotheses, max_batch_size))

    def generate_many(self, requests: list[tuple[list[str], int]], **options) -> list[list[list[Hypothesis]]]:
        """`generate` for each `(texts, to)`, handed to CTranslate2 together (seeded sampling: in turn)."""
        if options.get("sample") and self._seed is not None:
            return [self.generate(texts, to, **options) for texts, to in requests]
        started = [self._start(texts, to, **options) for texts, to in requests]
        return [self._collect(s) for s in started]

    def _start(self, texts, to, beam=1, sample=False, temperature=1.0, num_hypotheses=1, max_batch_size=64):
        if beam < 1 or num_hypotheses < 1:
            raise TextcycleError("beam and num_hypotheses must be at least 1")
        if not texts:
            return []
        prompts = [self.prompt(t, to) for t in texts]
        options = dict(
            max_length=self.max_new_tokens,
            include_prompt_in_result=False,
            end_token=self.format.end,
            max_batch_size=max_batch_size,
            num_hypotheses=num_hypotheses,
            asynchronous=True,
        )
        if sample:
            options.update(sampling_topk=0, sampling_temperature=max(float(temperature), 1e-5))
            if self._seed is not None:
                _ctranslate2().set_random_seed((self._seed + self._sample_calls) % 2**32)
                self._sample_calls += 1
                self.generator = self._load()
        else:
            options.update(beam_size=max(beam, num_hypotheses))
        try:
            return self.generator.generate_batch(prompts, **options)
        except (RuntimeError, ValueError) as e:
            raise TextcycleError(f"CTranslate2 generation failed: {one_line(e)}") from None

    def _collect(self, pending) -> list[list[Hypothesis]]:
        out = []
        for p in pending:
            try:
                r = p.result()
            except (RuntimeError, ValueError) as e:
                raise TextcycleError(f"CTranslate2 generation failed: {one_line(e)}") from None
            out.append([Hypothesis(self.decode(ids), ids, self) for ids in r.sequences_ids])
        return out

    def logprobs(self, sources: list[str], targets: list[str], to: int, max_batch_size: int = 64) -> np.ndarray:
        """Mean log p(target_i, end | prompt(source_i, to)) per token, float32 [n]. The content
        reward of rewrites y of x (style s) is `logprobs(y, x, s)`: how well the other direction
        gets x back."""
        if len(sources) != len(targets):
            raise TextcycleError(f"logprobs: {len(sources)} sources but {len(targets)} targets")
        if not targets:
            return np.zeros(0, dtype=np.float32)
        rows, lengths = [], []
        for src, tgt in zip(sources, targets):
            y = self._text_tokens(tgt)[: self.max_new_tokens - 1] + [self.format.end]
            rows.append(self.prompt(src, to) + y)
            lengths.append(len(y))
        try:
            scored = score_rows(self.generator, rows, max_batch_size, self.batched_scoring)
        except (RuntimeError, ValueError) as e:
            raise TextcycleError(f"CTranslate2 scoring failed: {one_line(e)}") from None
        return np.array([np.mean(r.log_probs[-n:]) for r, n in zip(scored, lengths)], dtype=np.float32)

    def style_logits(self, texts: list[str]) -> np.ndarray:
        if self.discriminator is None:
            raise TextcycleError("this LM engine was made without the model's discriminator (use from_folder)")
        if not texts:
            return np.zeros((0, 3), dtype=np.float32)
        return self.discriminator([str(t) for t in texts])

    def count_unknown(self, text: str) -> tuple[int, int]:
        """(0, tokens): the byte-level vocabulary of an LM reads every text."""
        return 0, len(self._tokens(text))


def _ctranslate2():
    try:
        import ctranslate2
    except ImportError:
        raise TextcycleError("LM models need CTranslate2: pip install ctranslate2") from None
    return ctranslate2
