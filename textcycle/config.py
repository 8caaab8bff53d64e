"""Dataclass configs read from YAML files; unknown keys are errors, not silent typos.

A config is a tree of dataclasses. `load_config(path, Cls)` reads YAML into it, checks each key
against the dataclass fields and each value against the field's type, and applies `a.b=c`
overrides from the command line. Text (`TextCycleConfig`) and image (`textcycle.image`) configs
share this loader.
"""

from __future__ import annotations

import dataclasses
import os
import re
import reprlib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from .errors import ConfigError


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
    # "s2tw", "tw2s", "s2twp", ...; needs `pip install 'textcycle[zh]'`), None = keep the script.
    zh_convert: Optional[str] = None
    # "zh_reviews": folders with neg.txt/pos.txt (one review per line), split into sentences;
    # empty = [path]. Reviews are held out whole for dev and test.
    paths: list = field(default_factory=list)
    test_fraction: float = 0.02  # held-out test share (zh_reviews)
    max_test_per_style: Optional[int] = 1000
    # style-bearing training sentences (textcycle.sentence_filter): keep a training sentence when
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


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = 4
_SHORT.maxlevel = 2


def shown(value: Any, limit: int = 80, quote: bool = True) -> str:
    """`repr(value)` (a string without quotes when not `quote`) cut to a short prefix, for a
    one-line error: a bad config value can be megabytes long, and the message must stay one
    readable line."""
    text = _SHORT.repr(value) if quote or not isinstance(value, str) else value[: limit + 1]
    text = text if text.isprintable() else ascii(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases (`*name`): nine nested anchors of nine items make a
    few lines of YAML into 9^9 values, which any walk of the value (a type check, an error
    message) then expands. A config never needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            name = shown(event.anchor, 40, quote=False)
            raise _AliasRefused(
                f"YAML aliases are not allowed in a config (*{name} at line "
                f"{event.start_mark.line + 1}); write the value out"
            )
        return super().compose_node(parent, index)


class _AliasRefused(yaml.YAMLError):
    pass


def load_yaml(text: str, where: str) -> Any:
    """Parse config YAML (no aliases, see `_ConfigLoader`); any problem is one ConfigError line."""
    try:
        return yaml.load(text, Loader=_ConfigLoader)
    except _AliasRefused as e:
        raise ConfigError(f"{where}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML ({str(e).splitlines()[0]})") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML (nested too deeply)") from None
    except ValueError as e:  # an integer of more than 4300 digits
        raise ConfigError(f"{where}: not valid YAML ({shown(str(e), quote=False)})") from None


# allowed values of the text config: (section.key, low, high) for numbers, inclusive
_YAML11_EXPONENT = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+")

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


def _check_type(value: Any, tp: Any, where: str) -> Any:
    """Return `value` converted to `tp` where that is lossless, else raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _check_type(value, args[0], where)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {shown(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {shown(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _YAML11_EXPONENT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads 1e-5 (no dot) as a string
        raise ConfigError(f"{where}: expected a number, got {shown(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {shown(value)}")
    if tp is list or origin is list:
        if isinstance(value, list):
            return value
        raise ConfigError(f"{where}: expected a list, got {shown(value)}")
    return value


def from_dict(cls, data: dict, where: str = "config"):
    """Build dataclass `cls` from a dict, refusing unknown keys and wrong types."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(str(k) for k in data if k not in fields)  # keys may be numbers: str() to sort
    if unknown:
        names = ", ".join(shown(k, 40, quote=False) for k in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise ConfigError(f"{where}: unknown key(s) {names}; known keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = from_dict(tp, value, f"{where}.{name}")
        else:
            kwargs[name] = _check_type(value, tp, f"{where}.{name}")
    return cls(**kwargs)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `section.key=value` strings (value parsed as YAML) to a nested dict."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {shown(item)}: expected key=value, e.g. train.lr=3e-4")
        key, raw = item.split("=", 1)
        value = load_yaml(raw, f"override {shown(item)}")
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {shown(item)}: {shown(p, 40, quote=False)} is not a section")
        node[parts[-1]] = value
    return data


PACKAGED_CONFIGS = Path(__file__).parent / "configs"  # also the checkout's top-level configs/


def resolve_config(path: str | Path) -> Path:
    """A config file, or the name of one that ships with the package (`--config yelp`), so the
    README's commands work from an installed wheel as well as from a checkout."""
    p = Path(path)
    if p.is_file():
        return p
    name = p.name[:-5] if p.name.endswith(".yaml") else p.name
    packaged = PACKAGED_CONFIGS / f"{name}.yaml"
    if (len(p.parts) == 1 or p.parent.name == "configs") and packaged.is_file():
        return packaged
    known = ", ".join(sorted(f.stem for f in PACKAGED_CONFIGS.glob("*.yaml")))
    raise ConfigError(
        f"config file not found: {shown(str(p), 200, quote=False)} (or give a packaged config by name: {known})"
    )


def load_config(path: str | Path | None, cls=TextCycleConfig, overrides: list[str] | None = None):
    """Read a YAML config into dataclass `cls` (defaults where `path` is None); `path` may be
    a packaged config's name (see `resolve_config`)."""
    data: dict = {}
    if path is not None:
        p = resolve_config(path)
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
        data = load_yaml(text, str(p)) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: expected a mapping at the top level")
    data = apply_overrides(data, overrides or [])
    return from_dict(cls, data, where=str(path or "config"))


def config_yaml(cfg) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)


def _is_trainer_dump(text: str) -> bool:
    """Whether `text` is a config the trainer wrote: its plain dump (`config_yaml`), which reads
    back and dumps again unchanged. A user's config (comments, another order) is not."""
    try:
        data = yaml.load(text, Loader=_ConfigLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return False
    return isinstance(data, dict) and yaml.safe_dump(data, sort_keys=False, allow_unicode=True) == text


def check_run_config(saved: str | Path, config_file: str | Path | None, cfg) -> None:
    """Refuse, before any work, a run whose record of its config (`saved`, the run folder's
    config.yaml) would replace a file the trainer did not write: a user's own config there,
    comments and all, would be lost. The --config file itself may be the record (resuming
    with the saved config) only when the run would write it back unchanged."""
    saved = Path(saved)
    if not saved.exists() and not saved.is_symlink():
        return
    try:
        text = saved.read_text(encoding="utf-8") if saved.is_file() else None
    except (OSError, UnicodeDecodeError):
        text = None
    if text is None or not _is_trainer_dump(text):
        raise ConfigError(
            f"{saved} is not a config this trainer wrote (your own config?) and the run would "
            "replace it: move it out of the run folder, or pick another train.output_dir"
        )
    same = config_file is not None and Path(config_file).is_file() and os.path.samefile(config_file, saved)
    if same and text != config_yaml(cfg):
        raise ConfigError(
            f"--config {config_file} is the run's own record, which these overrides would change: "
            "pass a copy of it, or pick another train.output_dir"
        )


def save_config(cfg, path: str | Path) -> None:
    from .files import atomic_write_text

    atomic_write_text(path, config_yaml(cfg))


def add_config_arguments(parser, required: bool = True) -> None:
    """`--config FILE` and `-o/--set KEY=VALUE` (repeatable): the same on every command."""
    parser.add_argument("--config", required=required, help="YAML config (see configs/)")
    parser.add_argument(
        "-o",
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override a config value, e.g. -o train.batch_size=32 (repeatable)",
    )
