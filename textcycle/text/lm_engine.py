"""The fast engine of an LM model: its generators merged into one plain LM, run by CTranslate2's
`Generator` (int8), with no torch or transformers on the rewrite path.

A model folder holds only its adapter, so the merged copy is derived: `merged_copy` builds it on
first use into the user cache (`textcycle.cache`: the base plus the adapter, merged by peft,
converted by CTranslate2's Transformers converter), keyed by the digests of the adapter and the
base, checked on every use and rebuilt when stale or corrupt. Texts go in and come out as strings;
the prompt is `lm_model.prompt_text`, tokenised with the `tokenizers` library.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..cache import cached_folder, file_digest
from ..errors import TextcycleError
from .lm_format import ADAPTER, END, FULL, START, read_lm_spec

TOKENIZER = "tokenizer.json"


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
    base_name = base or spec.base
    source = f"{_folder_digest(weights)}:{base_name}:{quantization}"
    key = hashlib.sha256(source.encode()).hexdigest()[:16]

    def build(tmp: Path) -> None:
        from .lm_model import LMGenerators

        convert_merged(LMGenerators.from_pretrained(model_folder, base=base), tmp, quantization)

    return cached_folder(f"lm-{key}", source, build) / "ct2"


def convert_merged(gens, out: Path, quantization: str = "int8") -> Path:
    """Write `out/ct2`: the generators (an in-memory `LMGenerators`) merged into one plain LM and
    converted by CTranslate2, with the tokenizer; the plain folder in between is removed."""
    import shutil

    import ctranslate2

    plain = out / "hf"
    gens.merged_lm().save_pretrained(plain)
    gens.tokenizer.save_pretrained(plain)
    ctranslate2.converters.TransformersConverter(str(plain)).convert(
        str(out / "ct2"), quantization=quantization, force=True
    )
    shutil.copyfile(plain / TOKENIZER, out / "ct2" / TOKENIZER)
    shutil.rmtree(plain)
    return out / "ct2"


class LMEngine:
    """Generation and scoring of an LM model's style-conditioned generators on CTranslate2."""

    name = "ct2-lm"

    def __init__(
        self,
        ct2_folder: str | Path,
        style_names: list[str],
        threads: int = 2,
        max_source_tokens: int = 64,
        max_new_tokens: int = 64,
        seed: int | None = None,
    ):
        """`seed`: reproducible sampling. CTranslate2 seeds a worker thread when the thread
        starts, so the seed is set before the generator (and its one worker) is made."""
        import ctranslate2
        from tokenizers import Tokenizer

        ct2_folder = Path(ct2_folder)
        if seed is not None:
            ctranslate2.set_random_seed(seed % 2**32)
        self.generator = ctranslate2.Generator(str(ct2_folder), device="cpu", intra_threads=threads)
        self.tokenizer = Tokenizer.from_file(str(ct2_folder / TOKENIZER))
        self.style_names = list(style_names)
        self.max_source_tokens, self.max_new_tokens = max_source_tokens, max_new_tokens

    def _tokens(self, text: str) -> list[str]:
        return self.tokenizer.encode(text, add_special_tokens=False).tokens

    def prompt(self, source: str, style: int) -> list[str]:
        src = self._tokens(source)[: self.max_source_tokens]
        return [START] + src + self._tokens(f"{END}\n{START}{self.style_names[style]}\n")

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def generate(
        self,
        texts: list[str],
        to: int,
        beam: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
        num_hypotheses: int = 1,
        max_batch_size: int = 64,
    ) -> list[list[str]]:
        """Per text, `num_hypotheses` rewrites into style `to` (samples, or the beam's best)."""
        if not texts:
            return []
        options = dict(
            max_length=self.max_new_tokens,
            include_prompt_in_result=False,
            end_token=END,
            max_batch_size=max_batch_size,
            num_hypotheses=num_hypotheses,
        )
        if sample:
            options.update(sampling_topk=0, sampling_temperature=temperature)
        else:
            options.update(beam_size=max(beam, num_hypotheses))
        results = self.generator.generate_batch([self.prompt(t, to) for t in texts], **options)
        return [[self.decode(ids) for ids in r.sequences_ids] for r in results]

    def logprobs(self, targets: list[str], sources: list[str], style: int, max_batch_size: int = 64) -> np.ndarray:
        """Mean log p(target_i + end | prompt(source_i, style)) per token: the content reward's
        reconstruction term when the targets are the original sentences."""
        if not targets:
            return np.zeros(0)
        rows, lengths = [], []
        for tgt, src in zip(targets, sources):
            y = self._tokens(tgt)[: self.max_new_tokens - 1] + [END]
            rows.append(self.prompt(src, style) + y)
            lengths.append(len(y))
        scored = self.generator.score_batch(rows, max_batch_size=max_batch_size)
        return np.array([np.mean(r.log_probs[-n:]) for r, n in zip(scored, lengths)])
