"""Writes the CTranslate2 copy of an LM model's generators (imports torch and peft; runs once per
adapter, into the cache (`engines.lm.merged_copy`), or per evaluation during training)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..text.lm_format import TOKENIZER


def convert_folder(model_folder: Path, out: Path, base: str | None = None, quantization: str = "int8") -> Path:
    """`out/ct2` from a saved LM model folder (its adapter on its base)."""
    from ..text.lm_model import LMGenerators

    return convert_merged(LMGenerators.from_pretrained(model_folder, base=base), out, quantization)


def convert_merged(gens, out: Path, quantization: str = "int8") -> Path:
    """Write `out/ct2`: the generators (an in-memory `LMGenerators`) merged into one plain LM and
    converted by CTranslate2, with the tokenizer; the plain folder in between is removed."""
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
