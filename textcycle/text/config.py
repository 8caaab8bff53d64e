"""The text method's options: dataclasses read from YAML by the loader in `textcycle.config`,
their allowed ranges (checked at load time, and also what a saved model folder's sizes are
checked against: `allowed_range`) and the keys a resumed run must not change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import ConfigError, shown


@dataclass
class DataConfig:
    """Where the two unpaired styles come from."""

    # "yelp_shared": the Yelp folder of ../shared/data (train = Shen dev+test minus Li dev/test);
    # "folder": sentiment.{train,dev,test}.{0,1}; "text_files": train_0/train_1 (+ dev/test);
    # "dataset": a `datasets` dataset (local path or hub name) with text and label columns.
    # "zh_reviews": Chinese review folders with neg.txt/pos.txt (see `paths`), split into sentences.
    source: str = "yelp_shared"
    path: str = "../shared/data/yelp"
    style_names: list = field(default_factory=lambda: ["negative", "positive"])
    language: str = "en"  # "en" (Yelp-style lowercase + tokenised) or "zh"
    train_0: Optional[str] = None
    train_1: Optional[str] = None
    dev_0: Optional[str] = None
    dev_1: Optional[str] = None
    test_0: Optional[str] = None
    test_1: Optional[str] = None
    text_column: str = "text"
    label_column: str = "label"
    max_train_per_style: Optional[int] = None  # cap for quick runs and tests
    max_dev_per_style: Optional[int] = 500
    dev_fraction: float = 0.02  # held-out share when a corpus has no dev split
    min_chars: int = 1
    max_chars: int = 300
    seed: int = 0
    # Chinese (language "zh"): an OpenCC conversion applied to every sentence ("t2s", "s2t",
    # "s2tw", "tw2s", "s2twp", ...; OpenCC, a dependency of textcycle), None = keep the script.
    zh_convert: Optional[str] = None
    # "zh_reviews": folders with neg.txt/pos.txt (one review per line), split into sentences;
    # empty = [path]. Reviews are held out whole for dev and test.
    paths: list = field(default_factory=list)
    test_fraction: float = 0.02  # held-out test share (zh_reviews)
    max_test_per_style: Optional[int] = 1000
    # style-bearing training sentences (textcycle.text.sentence_filter): keep a training sentence when
    # a filter classifier trained on the other half of the training split gives its own label
    # at least this probability; None = keep every sentence
    filter_min_prob: Optional[float] = None
    filter_max_per_style: Optional[int] = None  # then keep at most this many, the most confident


@dataclass
class TokenizerConfig:
    vocab_size: int = 8000
    model_type: str = "bpe"  # "bpe" or "unigram"
    character_coverage: float = 1.0  # 0.9995 is the usual choice for Chinese
    max_length: int = 40  # pieces per sentence, longer inputs are cut


@dataclass
class GeneratorConfig:
    """The BART-style seq2seq generator (built from a transformers BartConfig, no pretrained weights)."""

    d_model: int = 256
    encoder_layers: int = 3
    decoder_layers: int = 3
    attention_heads: int = 4
    ffn_dim: int = 1024
    dropout: float = 0.1
    max_position_embeddings: int = 64
    # a local path (or hub name, for users online) of a pretrained seq2seq checkpoint to start from
    init_from: Optional[str] = None
    # the two generators share one embedding table (halves the checkpoint size of the embeddings)
    share_embeddings: bool = True


@dataclass
class DiscriminatorConfig:
    """The style discriminator whose probabilities are the generators' reward."""

    d_model: int = 128
    layers: int = 2
    heads: int = 4
    ffn_dim: int = 256
    dropout: float = 0.1
    lr: float = 2e-4


@dataclass
class TrainConfig:
    output_dir: str = "runs/yelp"
    seed: int = 0
    batch_size: int = 64
    lr: float = 5e-4
    warmup_steps: int = 500
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"  # "no", "bf16", "fp16" (GPU); measure bf16 on a CPU first
    threads: int = 0  # torch threads per process; 0 = leave torch's default
    # phase 1: denoising autoencoding + back-translation warm start
    warm_steps: int = 3000
    bt_start: int = 1000  # warm-start step at which back-translation pairs join the DAE pairs
    word_drop: float = 0.1
    word_mask: float = 0.1
    shuffle_window: int = 3
    lexicon_ratio: float = 4.0  # a style marker is used at least this many times more often in its style
    marker_sampling: str = "uniform"  # swapped-in style markers: "uniform" or "frequency" (as real text has them)
    # phase 2: reward-ranked self-training rounds (textcycle.selftrain); 0 rounds = none
    selftrain_rounds: int = 0
    selftrain_steps: int = 100  # generator updates per round, on that round's pairs
    selftrain_sources: int = 4000  # sources per style per round
    selftrain_samples: int = 4  # sampled candidates per source (the greedy one is added)
    selftrain_min_style: float = 0.5  # keep a pair when p(target style | rewrite) is at least this
    selftrain_min_content: float = 0.2  # ... and the content reward is at least this
    selftrain_overlap: float = 0.0  # weight of the rewrite's token overlap with its source in that content
    selftrain_lr: float = 3e-4
    # phase 3: cycle-RL
    rl_steps: int = 1500
    rl_lr: float = 1e-4
    num_samples: int = 4  # K sampled transfers per source sentence
    baseline: str = "greedy"  # "greedy" (self-critical) or "mean" (of the K samples)
    style_weight: float = 1.0
    content_weight: float = 1.0
    rl_weight: float = 1.0
    bt_weight: float = 1.0  # supervised back-translation loss interleaved with RL
    dae_weight: float = 0.0
    disc_steps: int = 1  # discriminator updates per generator step
    sample_temperature: float = 1.0
    max_new_tokens: int = 32
    time_limit_minutes: float = 0.0  # > 0: stop (and save the model) once training took this long
    # bookkeeping
    log_every: int = 20
    eval_every: int = 500
    save_every: int = 250
    keep_checkpoints: int = 2
    eval_sentences: int = 200  # dev sentences per style scored at each evaluation
    # evaluation classifier for dev style accuracy: a folder, or None = the bundled Yelp one for
    # Yelp and the discriminator otherwise
    eval_classifier: Optional[str] = None


@dataclass
class TextCycleConfig:
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# allowed values of the text config: (section.key, low, high) for numbers, inclusive
_RANGES = [
    ("tokenizer.vocab_size", 16, 1_000_000),
    ("tokenizer.max_length", 2, 4096),
    ("tokenizer.character_coverage", 0.5, 1.0),
    ("generator.d_model", 8, 8192),
    ("generator.encoder_layers", 1, 64),
    ("generator.decoder_layers", 1, 64),
    ("generator.attention_heads", 1, 128),
    ("generator.ffn_dim", 8, 65536),
    ("generator.dropout", 0.0, 0.9),
    ("generator.max_position_embeddings", 8, 8192),
    ("discriminator.d_model", 8, 8192),
    ("discriminator.layers", 1, 64),
    ("discriminator.heads", 1, 128),
    ("discriminator.ffn_dim", 8, 65536),
    ("discriminator.dropout", 0.0, 0.9),
    ("discriminator.lr", 1e-8, 1.0),
    ("train.batch_size", 1, 1_000_000),
    ("train.lr", 1e-8, 1.0),
    ("train.rl_lr", 0.0, 1.0),
    ("train.warmup_steps", 0, 10**9),
    ("train.max_grad_norm", 1e-6, 1e6),
    ("train.threads", 0, 1024),
    ("train.warm_steps", 0, 10**9),
    ("train.bt_start", 0, 10**9),
    ("train.rl_steps", 0, 10**9),
    ("train.lexicon_ratio", 1.0, 10**6),
    ("train.word_drop", 0.0, 0.9),
    ("train.word_mask", 0.0, 0.9),
    ("train.shuffle_window", 0, 100),
    ("train.num_samples", 1, 1024),
    ("train.style_weight", 1e-6, 1e6),
    ("train.content_weight", 1e-6, 1e6),
    ("train.rl_weight", 0.0, 1e6),
    ("train.bt_weight", 0.0, 1e6),
    ("train.dae_weight", 0.0, 1e6),
    ("train.selftrain_rounds", 0, 10**6),
    ("train.selftrain_steps", 1, 10**9),
    ("train.selftrain_sources", 1, 10**8),
    ("train.selftrain_samples", 1, 64),
    ("train.selftrain_min_style", 0.0, 1.0),
    ("train.selftrain_min_content", 0.0, 1.0),
    ("train.selftrain_overlap", 0.0, 1.0),
    ("train.selftrain_lr", 0.0, 1.0),
    ("train.time_limit_minutes", 0.0, 10**7),
    ("train.disc_steps", 0, 100),
    ("train.sample_temperature", 1e-3, 100.0),
    ("train.max_new_tokens", 1, 4096),
    ("train.log_every", 1, 10**9),
    ("train.eval_every", 1, 10**9),
    ("train.save_every", 1, 10**9),
    ("train.keep_checkpoints", 1, 10**6),
    ("train.eval_sentences", 1, 10**7),
    ("data.dev_fraction", 0.0, 0.9),
    ("data.test_fraction", 0.0, 0.9),
    ("data.min_chars", 0, 10**6),
    ("data.max_chars", 1, 10**7),
    ("data.filter_min_prob", 0.5, 1.0),
    ("data.filter_max_per_style", 1, 10**9),
]
_CHOICES = [
    ("data.language", ("en", "zh")),
    ("tokenizer.model_type", ("bpe", "unigram")),
    ("train.mixed_precision", ("no", "bf16", "fp16")),
    ("train.baseline", ("greedy", "mean")),
    ("train.marker_sampling", ("uniform", "frequency")),
]


def validate_text_config(cfg: "TextCycleConfig") -> "TextCycleConfig":
    """Every value in its allowed range, checked at load time, so a run never fails (or, worse,
    runs) on a bad value after an hour of training. The message names the allowed range."""
    import math

    def get(key):
        section, name = key.split(".")
        return getattr(getattr(cfg, section), name)

    for key, lo, hi in _RANGES:
        v = get(key)
        if v is None:
            continue
        if isinstance(v, float) and not math.isfinite(v) or not lo <= v <= hi:
            raise ConfigError(f"{key} = {shown(v)} is out of range: allowed {lo} to {hi}")
    for key, allowed in _CHOICES:
        if get(key) not in allowed:
            raise ConfigError(f"{key} = {shown(get(key))}: allowed {', '.join(allowed)}")
    for key in ("data.max_train_per_style", "data.max_dev_per_style", "data.max_test_per_style"):
        if get(key) is not None and get(key) < 1:
            raise ConfigError(f"{key} = {shown(get(key))}: allowed null (no cap) or at least 1")
    if cfg.generator.d_model % cfg.generator.attention_heads:
        raise ConfigError(
            f"generator.d_model ({cfg.generator.d_model}) must be divisible by "
            f"generator.attention_heads ({cfg.generator.attention_heads})"
        )
    if cfg.discriminator.d_model % cfg.discriminator.heads:
        raise ConfigError(
            f"discriminator.d_model ({cfg.discriminator.d_model}) must be divisible by "
            f"discriminator.heads ({cfg.discriminator.heads})"
        )
    if cfg.tokenizer.max_length > cfg.generator.max_position_embeddings:
        raise ConfigError(
            f"tokenizer.max_length ({cfg.tokenizer.max_length}) exceeds "
            f"generator.max_position_embeddings ({cfg.generator.max_position_embeddings})"
        )
    if cfg.train.warm_steps + cfg.train.rl_steps < 1:
        raise ConfigError("train.warm_steps + train.rl_steps must be at least 1")
    if cfg.train.rl_steps > 0 and cfg.train.batch_size < cfg.train.num_samples:
        raise ConfigError(
            f"train.batch_size ({cfg.train.batch_size}) must be at least train.num_samples "
            f"({cfg.train.num_samples}): each RL step rewrites batch_size / num_samples sources"
        )
    if cfg.data.min_chars > cfg.data.max_chars:
        raise ConfigError(f"data.min_chars ({cfg.data.min_chars}) is above data.max_chars ({cfg.data.max_chars})")
    return cfg


def allowed_range(key: str) -> tuple:
    """(low, high) that a training config allows for the numeric `key` ("generator.d_model"): the
    one copy of the ranges, also what a saved model folder's sizes are checked against."""
    for k, lo, hi in _RANGES:
        if k == key:
            return lo, hi
    raise KeyError(key)


# keys that fix the shape of the networks: a resumed run must not change them
ARCHITECTURE_KEYS = (
    "tokenizer.vocab_size",
    "tokenizer.model_type",
    "tokenizer.character_coverage",
    "tokenizer.max_length",
    "generator.d_model",
    "generator.encoder_layers",
    "generator.decoder_layers",
    "generator.attention_heads",
    "generator.ffn_dim",
    "generator.max_position_embeddings",
    "generator.share_embeddings",
    "generator.init_from",
    "discriminator.d_model",
    "discriminator.layers",
    "discriminator.heads",
    "discriminator.ffn_dim",
    "data.language",
)


def architecture_changes(old: dict, new: dict) -> list[str]:
    """`key: old -> new` for every architecture key that differs between two config dicts."""
    out = []
    for key in ARCHITECTURE_KEYS:
        section, name = key.split(".")
        a, b = (old.get(section) or {}).get(name), (new.get(section) or {}).get(name)
        if a != b:
            out.append(f"{key}: {shown(a)} -> {shown(b)}")
    return out
