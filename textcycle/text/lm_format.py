"""What an LM model is on disk and what its generators read: the folder's config (`LMSpec`), the
file names, and the prompt. No torch here: the fast engine and the model share it.

G_t(x) is the LM's continuation of `{bos}{start}x{end}\n{start}t\n` up to `{end}`, where t is the
target style's name and bos, start and end are the base's chat markers (`PromptFormat`), which its
tokenizer has as single tokens: `<|im_start|>`/`<|im_end|>` for SmolLM2 (ChatML),
`<bos>`/`<start_of_turn>`/`<end_of_turn>` for Gemma.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TextcycleError

MODEL_TYPE = "textcycle-lm"
CONFIG = "config.json"
ADAPTER = "adapter"  # peft's adapter folder (LoRA weights and adapter_config.json)
FULL = "lm"  # the whole LM, when every weight was trained
TOKENIZER = "tokenizer.json"  # the LM's tokenizer, beside its CTranslate2 copy


@dataclass(frozen=True)
class PromptFormat:
    bos: str  # what starts every sequence ("" where the base's chat format has nothing)
    start: str  # a turn's start
    end: str  # a turn's end: generation stops here
    # the chat roles of few-shot prompts (Gemma has no system role: its instruction is a user turn)
    system: str = "system"
    assistant: str = "assistant"

    def markers(self) -> list[str]:
        return [m for m in (self.bos, self.start, self.end) if m]


PROMPT_FORMATS = {
    "chatml": PromptFormat("", "<|im_start|>", "<|im_end|>"),
    "gemma": PromptFormat("<bos>", "<start_of_turn>", "<end_of_turn>", system="user", assistant="model"),
}
CHATML = PROMPT_FORMATS["chatml"]
START, END = CHATML.start, CHATML.end


def prompt_format(name: str) -> PromptFormat:
    if name not in PROMPT_FORMATS:
        raise TextcycleError(f"unknown prompt format {name!r}: use one of {', '.join(PROMPT_FORMATS)}")
    return PROMPT_FORMATS[name]


def prompt_text(source: str, style: str, fmt: PromptFormat = CHATML) -> str:
    return f"{fmt.bos}{fmt.start}{source}{fmt.end}\n{fmt.start}{style}\n"


# the untrained base asked for a rewrite in its chat format (`few_shot_prefix` + `few_shot_turn`)
FEW_SHOT_INSTRUCTION = (
    "Rewrite the user's sentence so that it is {style}. Change only the words that carry the "
    "sentiment; keep everything else, names and numbers as written."
)


def few_shot_prefix(examples: list[tuple[str, str]], style: str, fmt: PromptFormat = CHATML) -> str:
    """The instruction and the example rewrites into `style` as chat turns: the part of a
    few-shot prompt that is the same for every source."""
    turns = [(fmt.system, FEW_SHOT_INSTRUCTION.format(style=style))]
    for x, y in examples:
        turns += [("user", x), (fmt.assistant, y)]
    return fmt.bos + "".join(f"{fmt.start}{role}\n{text}{fmt.end}\n" for role, text in turns)


def few_shot_turn(source: str, fmt: PromptFormat = CHATML) -> str:
    """The source's turn, after `few_shot_prefix`; the base continues with the rewrite."""
    return f"{fmt.start}user\n{source}{fmt.end}\n{fmt.start}{fmt.assistant}\n"


@dataclass
class LMSpec:
    """What a saved LM model is: its base, its styles and its adapter."""

    base: str = "smollm2-135m"
    style_names: list = field(default_factory=lambda: ["negative", "positive"])
    lora_rank: int = 16  # 0: train every weight of the LM
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    max_source_tokens: int = 64
    max_new_tokens: int = 64
    prompt_format: str = "chatml"  # PROMPT_FORMATS: the base's chat markers (older folders: chatml)


def read_lm_spec(folder: str | Path) -> LMSpec:
    """The spec in an LM model folder's config.json, checked (one-line errors)."""
    f = Path(folder) / CONFIG
    try:
        raw = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TextcycleError(f"{f}: cannot read the LM model config ({e})") from None
    return check_lm_spec(raw, f)


def check_lm_spec(raw, f: Path) -> LMSpec:
    """The spec in an LM model's parsed config.json (`f`, for the messages), checked."""
    if not isinstance(raw, dict) or raw.get("model_type") != MODEL_TYPE:
        raise TextcycleError(f"{f}: not a textcycle LM model (model_type {MODEL_TYPE!r})")
    known = set(LMSpec.__dataclass_fields__)
    spec = LMSpec(**{k: v for k, v in raw.items() if k in known})
    names = spec.style_names
    if not (
        isinstance(names, list)
        and len(names) >= 2
        and all(isinstance(n, str) and n for n in names)
        and len(set(names)) == len(names)
    ):
        raise TextcycleError(f"{f}: style_names must be a list of different names")
    for key, low, high in (("lora_rank", 0, 1024), ("max_source_tokens", 1, 4096), ("max_new_tokens", 2, 4096)):
        v = getattr(spec, key)
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            raise TextcycleError(f"{f}: {key} must be an integer in {low}..{high}")
    if not isinstance(spec.prompt_format, str) or spec.prompt_format not in PROMPT_FORMATS:
        raise TextcycleError(f"{f}: prompt_format must be one of {', '.join(PROMPT_FORMATS)}")
    return spec
