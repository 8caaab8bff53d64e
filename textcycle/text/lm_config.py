"""The options of an LM-generator run, read from YAML like every textcycle config
(`config.load_config`): the corpus (`DataConfig`, shared with the small method), the LM and its
adapter, where the discriminator starts, and the schedule of the three phases."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..config import shown
from ..errors import ConfigError
from .config import DataConfig
from .lm_format import PROMPT_FORMATS


@dataclass
class LMModelConfig:
    base: str = "smollm2-135m"  # a bundled base (textcycle.text.lm_base), a folder, or (online) a Hub name
    lora_rank: int = 16  # 0: train every weight of the LM
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    max_source_tokens: int = 64
    max_new_tokens: int = 48
    prompt_format: str = ""  # lm_format.PROMPT_FORMATS; "": the base's (ChatML for a folder or Hub name)

    def resolved_prompt_format(self) -> str:
        from .lm_base import base_prompt_format

        return self.prompt_format or base_prompt_format(self.base)


@dataclass
class LMTrainConfig:
    output_dir: str = "runs/yelp-lm"
    seed: int = 0
    threads: int = 2
    batch_size: int = 16  # pairs per step; each trains both directions (x -> y and y -> x)
    lr: float = 2e-4
    warmup_steps: int = 50
    max_grad_norm: float = 1.0
    # phase 1, the warm start: "pairs", pseudo-pairs from a file (python -m textcycle.text.lm_pairs:
    # a teacher's rewrites or few-shot ones); or "lexicon", the small method's denoising warm start:
    # a training sentence of style s with its style markers swapped for the other style's and
    # words dropped and shuffled, G_s learning to write the sentence back
    warm_start: str = "pairs"
    warm_pairs: str | None = None
    warm_steps: int = 600
    word_drop: float = 0.1
    shuffle_window: int = 3
    lexicon_ratio: float = 4.0
    # phase 2: reward-ranked self-training on the LM's own candidates (0 rounds: none)
    selftrain_rounds: int = 0
    selftrain_steps: int = 100
    selftrain_sources: int = 500  # per style per round
    selftrain_samples: int = 3  # sampled candidates per source, beside the greedy one
    selftrain_min_style: float = 0.6
    selftrain_min_content: float = 0.2
    selftrain_reject_appends: bool = False  # drop candidates that only add words around the source
    selftrain_lr: float = 1e-4
    # style-guidance rungs (increasing, each > 1; lm_model.generate): with rungs, a source's
    # candidate is its greedy rewrite if that passes the thresholds, else the first rung's guided
    # greedy rewrite that does: the least guidance that changes the style. No samples, no ranking.
    selftrain_guidance: list = field(default_factory=list)
    guidance_batch: int = 32  # sources per guided torch generation batch
    # guided rounds: a candidate whose mean NLL per token under the pretrained base exceeds its
    # source's by more than this (nats; lm_pairs.fluency_loss) does not pass (None: no floor)
    selftrain_max_fluency_loss: float | None = None
    # guided rounds: a source that no rung decided takes the most fluent (lowest fluency loss) of
    # a beam's rewrites that passes every threshold, so that the model is shown a fluent fix
    # rather than no pair (0: no beam rung)
    selftrain_fluent_beam: int = 0
    # phase 3: cycle-RL
    rl_steps: int = 0
    rl_lr: float = 5e-5
    rl_sources: int = 4  # per style per step
    num_samples: int = 4
    sample_temperature: float = 1.0
    style_weight: float = 1.0
    content_weight: float = 1.0
    bt_weight: float = 1.0
    disc_lr: float = 1e-4
    time_limit_minutes: float = 0.0
    log_every: int = 10
    eval_every: int = 100
    save_every: int = 50
    keep_checkpoints: int = 2
    eval_sentences: int = 200
    eval_classifier: str | None = None  # None: the bundled Yelp evaluation classifier
    # a saved LM model (a run's best/) whose adapter and discriminator start the run, e.g. the
    # RL phase alone from the warm start's best checkpoint (LoRA only)
    init_from: str | None = None


@dataclass
class LMRecipe:
    data: DataConfig = field(default_factory=lambda: DataConfig(source="yelp_shared"))
    model: LMModelConfig = field(default_factory=LMModelConfig)
    # a small textcycle model (bundled name or folder) whose discriminator and SentencePiece
    # vocabulary start this model's discriminator
    discriminator_from: str = "yelp-small"
    train: LMTrainConfig = field(default_factory=LMTrainConfig)


WARM_STARTS = ("pairs", "lexicon")

_RANGES = [
    ("model.lora_rank", 0, 1024),
    ("model.lora_alpha", 1, 100_000),
    ("model.lora_dropout", 0.0, 0.9),
    ("model.max_source_tokens", 1, 4096),
    ("model.max_new_tokens", 2, 4096),
    ("train.threads", 0, 1024),
    ("train.batch_size", 1, 100_000),
    ("train.lr", 0.0, 1.0),
    ("train.warmup_steps", 0, 10**9),
    ("train.max_grad_norm", 1e-6, 1e6),
    ("train.warm_steps", 0, 10**9),
    ("train.word_drop", 0.0, 0.9),
    ("train.shuffle_window", 0, 100),
    ("train.lexicon_ratio", 1.0, 1e6),
    ("train.selftrain_rounds", 0, 10**6),
    ("train.selftrain_steps", 1, 10**9),
    ("train.selftrain_sources", 1, 10**8),
    ("train.selftrain_samples", 0, 64),
    ("train.selftrain_min_style", 0.0, 1.0),
    ("train.selftrain_min_content", 0.0, 1.0),
    ("train.selftrain_lr", 0.0, 1.0),
    ("train.guidance_batch", 1, 100_000),
    ("train.rl_steps", 0, 10**9),
    ("train.rl_lr", 0.0, 1.0),
    ("train.rl_sources", 1, 100_000),
    ("train.num_samples", 2, 64),
    ("train.selftrain_fluent_beam", 0, 16),
    ("train.sample_temperature", 1e-3, 100.0),
    ("train.style_weight", 1e-6, 1e6),
    ("train.content_weight", 1e-6, 1e6),
    ("train.bt_weight", 0.0, 1e6),
    ("train.disc_lr", 0.0, 1.0),
    ("train.time_limit_minutes", 0.0, 10**7),
    ("train.log_every", 1, 10**9),
    ("train.eval_every", 1, 10**9),
    ("train.save_every", 1, 10**9),
    ("train.keep_checkpoints", 1, 10**6),
    ("train.eval_sentences", 1, 10**7),
]


def validate_lm_config(cfg: LMRecipe) -> LMRecipe:
    """Every number in its range at load time (one line naming the range)."""
    for key, lo, hi in _RANGES:
        section, name = key.split(".")
        v = getattr(getattr(cfg, section), name)
        if isinstance(v, float) and not math.isfinite(v) or not lo <= v <= hi:
            raise ConfigError(f"{key} = {shown(v)} is out of range: allowed {lo} to {hi}")
    t = cfg.train
    if t.warm_steps + t.selftrain_rounds + t.rl_steps < 1:
        raise ConfigError("train.warm_steps + train.selftrain_rounds + train.rl_steps must be at least 1")
    g = t.selftrain_guidance
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and 1 < x <= 100 for x in g) or g != sorted(
        set(g)
    ):
        raise ConfigError(
            f"train.selftrain_guidance = {shown(g)}: give increasing numbers above 1 (at most 100), e.g. [1.15, 1.3]"
        )
    t.selftrain_guidance = [float(x) for x in g]
    f = t.selftrain_max_fluency_loss
    if f is not None and (isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f <= 100):
        raise ConfigError(f"train.selftrain_max_fluency_loss = {shown(f)}: give nats from 0 to 100, or null")
    if cfg.model.prompt_format and cfg.model.prompt_format not in PROMPT_FORMATS:
        raise ConfigError(
            f"model.prompt_format = {shown(cfg.model.prompt_format)}: use one of {', '.join(PROMPT_FORMATS)}"
        )
    if t.warm_start not in WARM_STARTS:
        raise ConfigError(f"train.warm_start = {shown(t.warm_start)}: use one of {', '.join(WARM_STARTS)}")
    if t.warm_steps > 0 and t.warm_start == "pairs" and not t.warm_pairs:
        raise ConfigError(
            "train.warm_steps > 0 needs train.warm_pairs (make them with python -m textcycle.text.lm_pairs)"
        )
    return cfg


def load_text_config(path: str | Path):
    """A text config of either method, by its sections: the LM recipe (`LMRecipe`) when it has a
    `model` section, else the small method's (`TextCycleConfig`). For the commands that only
    read a config's data and evaluation settings (`evaluate.split_eval`, `text.bundle`)."""
    from ..config import load_config, load_yaml, resolve_config
    from .config import TextCycleConfig

    try:
        p = resolve_config(path)
        raw = load_yaml(p.read_text(encoding="utf-8"), str(p))
    except (OSError, UnicodeDecodeError, ConfigError):
        raw = None  # load_config says what is wrong, in one line
    return load_config(path, LMRecipe if isinstance(raw, dict) and "model" in raw else TextCycleConfig)
