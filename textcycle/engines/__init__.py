"""Engines: what runs a model's networks behind the Rewriter (`base.Engine`, texts in and out).

base.py          the Engine protocol, and `Hypothesis` (a generated text with its token ids)
pieces.py        the small models' text side: corpus-form texts <-> SentencePiece ids
torch.py         TorchEngine: a loaded TextCycleModel (the reference; imports torch)
ct2.py           CT2Engine: CTranslate2 generators + the numpy discriminator (no torch)
discriminator.py the discriminator in numpy
ct2_format.py    the CTranslate2 copy on disk: names, format version, manifest checks
ct2_convert.py   writes that copy from a TextCycleModel (imports torch; runs once, at export)
lm.py            LMEngine: an LM model's generators on CTranslate2 (natural text; no torch once built)
lm_convert.py    writes an LM model's merged CTranslate2 copy (imports torch; once per adapter)

Nothing is imported here, so `import textcycle.engines.ct2` stays free of torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import TextcycleError, warn

if TYPE_CHECKING:
    from ..model_folder import ModelFolder
    from .base import Engine

KINDS = ("auto", "ct2", "torch")


def load(folder: ModelFolder, engine: str = "auto", threads: int = 2, device: str = "cpu", warn=warn) -> Engine:
    """The engine for a model folder: "ct2" (CTranslate2), "torch", or "auto" (CTranslate2 where the
    folder has a copy, else torch with a note). An LM model runs on CTranslate2 only (its merged
    copy is built into the cache on first use)."""
    if engine not in KINDS:
        raise TextcycleError(f"unknown engine {engine!r}: use {', '.join(KINDS)}")
    if folder.kind == "lm":
        if engine == "torch":
            raise TextcycleError(f"{folder.path} is an LM model: it runs on CTranslate2 (--engine auto or ct2)")
        from .lm import LMEngine

        return LMEngine.from_folder(folder, threads=threads)
    if engine in ("auto", "ct2"):
        from .ct2 import CT2Engine, CT2Unavailable

        if engine == "ct2" or folder.has_ct2:
            try:
                return CT2Engine.from_folder(folder, threads=threads)
            except CT2Unavailable as e:  # stale copy, or ctranslate2 missing
                if engine == "ct2":
                    raise
                warn(f"{e}; using the slower torch engine")
        else:
            warn(
                f"{folder.path} has no CTranslate2 copy; using the slower torch engine "
                f"(add one with: python -m textcycle.ct2_export {folder.path})"
            )
    from .torch import TorchEngine

    return TorchEngine.from_folder(folder, threads=threads, device=device)
