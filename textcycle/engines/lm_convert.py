"""Writes the CTranslate2 copies of LMs: an LM model's generators (imports torch and peft; runs once
per adapter, into the cache (`engines.lm.merged_copy`), or per evaluation during training), and
the plain pretrained base (`converted_base`: the pretrained-LM perplexity, few-shot pairs)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..cache import cached_folder, read_manifest_source
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


def converted_base(name: str, quantization: str = "int8") -> Path:
    """The cached CTranslate2 copy of a pretrained base (its plain folder converted once)."""
    from ..text.lm_base import base_folder

    plain = Path(base_folder(name))

    def build(tmp: Path) -> None:
        import ctranslate2

        ctranslate2.converters.TransformersConverter(str(plain)).convert(
            str(tmp / "ct2"), quantization=quantization, force=True
        )
        shutil.copyfile(plain / TOKENIZER, tmp / "ct2" / TOKENIZER)

    # a rebuilt base (a changed wheel) has the same path: its manifest's source tells it apart
    built_from = read_manifest_source(plain) or str(plain)
    return cached_folder(f"ppl-{Path(name).name}-{quantization}", f"{built_from}:{quantization}", build) / "ct2"
