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
    if not (isinstance(names, list) and len(names) == 2 and all(isinstance(n, str) and n.strip() for n in names)
            and names[0] != names[1]):
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
    if not (isinstance(reward, dict) and all(k in ("style_weight", "content_weight") and isinstance(v, (int, float))
                                             and not isinstance(v, bool) and v > 0 for k, v in reward.items())):
        raise TextcycleError(f"{f}: reward must map style_weight/content_weight to positive numbers, got {reward!r}")
    for key in ("generator", "discriminator"):
        if not isinstance(config.get(key), dict):
            raise TextcycleError(f"{f}: {key!r} must be an object, got {config.get(key)!r}")
    return {**config, "language": language, "max_length": ml, "script": script,
            "reward": {"style_weight": 1.0, "content_weight": 1.0, **reward}}
