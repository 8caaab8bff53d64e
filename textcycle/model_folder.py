"""The models that ship inside the package, and what a `--model` argument names (no torch here,
so the fast rewrite path can resolve names without importing it).

A name resolves in this order, so a stray folder called `yelp` in the current directory never
shadows the bundled model: a bundled name (`yelp`, `zh`, `default`) is the bundled model; anything
else is a path. Write `./yelp` for a folder of that name. A training run folder may be given for
its model: `RUN/best` when it exists, else `RUN/final`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import TextcycleError

PACKAGE_MODELS = Path(__file__).parent / "pretrained"
BUNDLED = {"yelp": "yelp", "default": "yelp", "zh": "zh"}
MODEL_FILE = "config.json"


def resolve_model_path(name_or_path: str | Path | None) -> Path:
    """A bundled name ("yelp", "zh"), a model folder, or a run folder (its best/ or final/)."""
    if name_or_path is None:
        name_or_path = "yelp"
    name = str(name_or_path)
    if name in BUNDLED and not isinstance(name_or_path, Path):
        bundled = PACKAGE_MODELS / BUNDLED[name]
        if bundled.is_dir():
            return bundled
        raise TextcycleError(f"the bundled model {name!r} is not installed (no {bundled})")
    p = Path(name_or_path)
    if p.is_dir():
        if (p / MODEL_FILE).is_file():
            return p
        for sub in ("best", "final"):
            if (p / sub / MODEL_FILE).is_file():
                return p / sub
        return p  # the loader names what is missing
    raise TextcycleError(f"model not found: {name} (a model folder, a run folder, or one of: {', '.join(BUNDLED)})")


def read_model_info(path: str | Path) -> dict:
    """The torch-free part of a model folder's config.json, checked: style names, language,
    max length, script, reward weights. Every wrong field is one clear line."""
    f = Path(path) / MODEL_FILE
    if not f.is_file():
        raise TextcycleError(f"{path} is not a textcycle model: {MODEL_FILE} is missing")
    try:
        config = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TextcycleError(f"{f} is corrupt: {e}") from None
    if not isinstance(config, dict):
        raise TextcycleError(f"{f}: expected a JSON object")
    names = config.get("style_names")
    if not (
        isinstance(names, list)
        and len(names) == 2
        and all(isinstance(n, str) and n.strip() for n in names)
        and names[0] != names[1]
    ):
        raise TextcycleError(f"{f}: style_names must be a list of two different names, got {names!r}")
    language = config.get("language", "en")
    if language not in ("en", "zh"):
        raise TextcycleError(f"{f}: language must be en or zh, got {language!r}")
    ml = config.get("max_length", 40)
    if not isinstance(ml, int) or isinstance(ml, bool) or not 2 <= ml <= 4096:
        raise TextcycleError(f"{f}: max_length must be an integer from 2 to 4096, got {ml!r}")
    script = config.get("script")
    if script not in (None, "simplified", "traditional"):
        raise TextcycleError(f"{f}: script must be simplified, traditional or null, got {script!r}")
    reward = config.get("reward") or {}
    if not (
        isinstance(reward, dict)
        and all(
            k in ("style_weight", "content_weight")
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
            and v > 0
            for k, v in reward.items()
        )
    ):
        raise TextcycleError(f"{f}: reward must map style_weight/content_weight to positive numbers, got {reward!r}")
    for key in ("generator", "discriminator"):
        if not isinstance(config.get(key), dict):
            raise TextcycleError(f"{f}: {key!r} must be an object, got {config.get(key)!r}")
    check_sizes(config, f)
    return {
        **config,
        "language": language,
        "max_length": ml,
        "script": script,
        "reward": {"style_weight": 1.0, "content_weight": 1.0, **reward},
    }


# a saved model's network sizes and the training-config key whose range each must be in: the
# generator is a BART config (encoder and decoder sizes apart), the discriminator's position table
# is as long as a generator's
SIZE_KEYS = {
    "generator": {
        "vocab_size": "tokenizer.vocab_size",
        "d_model": "generator.d_model",
        "encoder_layers": "generator.encoder_layers",
        "decoder_layers": "generator.decoder_layers",
        "encoder_attention_heads": "generator.attention_heads",
        "decoder_attention_heads": "generator.attention_heads",
        "encoder_ffn_dim": "generator.ffn_dim",
        "decoder_ffn_dim": "generator.ffn_dim",
        "max_position_embeddings": "generator.max_position_embeddings",
    },
    "discriminator": {
        "vocab_size": "tokenizer.vocab_size",
        "d_model": "discriminator.d_model",
        "layers": "discriminator.layers",
        "heads": "discriminator.heads",
        "ffn_dim": "discriminator.ffn_dim",
        "max_length": "generator.max_position_embeddings",
    },
}


def check_sizes(config: dict, f: Path) -> None:
    """The generator's and discriminator's sizes in config.json: integers in the ranges a training
    config allows, checked before any engine builds a network, so a tampered size (vocab_size 1e12)
    is one line and not an attempt to allocate a petabyte."""
    from .config import allowed_range

    for part, keys in SIZE_KEYS.items():
        for name, key in keys.items():
            v = config[part].get(name)
            lo, hi = allowed_range(key)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise TextcycleError(
                    f"{f}: {part}.{name} must be an integer from {lo} to {hi} "
                    f"(as {key} in a training config), got {_short(v)}"
                )
    g, d = config["generator"], config["discriminator"]
    for part, heads, d_model in (
        ("generator", g["encoder_attention_heads"], g["d_model"]),
        ("generator", g["decoder_attention_heads"], g["d_model"]),
        ("discriminator", d["heads"], d["d_model"]),
    ):
        if d_model % heads:
            raise TextcycleError(f"{f}: {part}.d_model ({d_model}) must be divisible by its attention heads ({heads})")
    if d.get("num_classes", 3) != 3:
        raise TextcycleError(f"{f}: discriminator.num_classes must be 3, got {_short(d.get('num_classes'))}")


def _short(v) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."
