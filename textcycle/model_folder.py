"""The one owner of a saved model folder, and of the names inside a run folder (no torch here, so
the fast rewrite path can open a folder without importing it).

    folder = ModelFolder.open("yelp")        # a bundled name, a model folder or a run folder
    folder.path, folder.kind                 # .../pretrained/yelp, "small" ("lm": an LM model)
    folder.style_names, folder.max_length    # from config.json, read and checked once
    folder.has_ct2                           # whether it has a usable-looking CTranslate2 copy

`open` resolves the name once, reads config.json once and checks every field a loader relies on:
the style names, language, max length, script, reward weights, and the networks' sizes against
the ranges of a training config, so a tampered `vocab_size` is one line here and never an attempt
to allocate a petabyte later. The Rewriter, both engines, `TextCycleModel.from_pretrained`, the
server, `ct2_export` and `bundle` take a ModelFolder, so a rewrite resolves and parses once.

A name resolves in this order, so a stray folder called `yelp` in the current directory never
shadows the bundled model: a bundled name (`yelp`, `yelp-lm`, `yelp-small`, `zh`, `ptt`, `default`) is the bundled model; anything
else is a path. Write `./yelp` for a folder of that name. A run folder may be given for its model:
`RUN/best` when it exists, else `RUN/final`.

An LM model folder (config.json `"model_type": "textcycle-lm"`, `textcycle.text.lm_format`) opens
as `kind == "lm"`, its spec and its discriminator's sizes checked; `engines.load` gives it the
LM engine (`engines.lm`), and the Rewriter hands that engine natural text (`info["form"]`).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .engines.ct2_format import CT2_DIR, has_copy
from .errors import TextcycleError, shown

PACKAGE_MODELS = Path(__file__).parent / "pretrained"
# bundled names -> folders under pretrained/: "yelp" (the default) is whichever Yelp model scores
# higher on dev, now the LM generators (docs/training.md, "LM generators"); "yelp-small" is the
# small fast model (folder pretrained/yelp), for throughput
BUNDLED = {
    "yelp": "yelp-lm",
    "default": "yelp-lm",
    "yelp-lm": "yelp-lm",
    "yelp-small": "yelp",
    "zh": "zh",
    "ptt": "ptt",
}
# bundled image models (textcycle.image): name -> (folder under pretrained/, the domain it translates into)
IMAGE_BUNDLED = {"horse2zebra": ("horse2zebra", "B"), "zebra2horse": ("horse2zebra", "A")}

# a model folder's files
CONFIG = "config.json"
TOKENIZER = "tokenizer.model"
GENERATORS = "generators.safetensors"
DISCRIMINATOR = "discriminator.safetensors"
CARD = "README.md"
LM_MODEL_TYPE = "textcycle-lm"  # as textcycle.text.lm_format.MODEL_TYPE

# a run folder, text and image runs alike: its config, checkpoints and model folders
RUN_CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"
BEST = "best"  # the best model by dev G (text runs)
FINAL = "final"  # the model at the end of the run
MODEL_FILE = CONFIG  # the file that makes a folder a model folder (text and image)


def run_model(run: Path, order: tuple[str, ...] = (BEST, FINAL)) -> Path | None:
    """The model folder a run folder stands for: the first of `order` that holds a config.json."""
    for sub in order:
        if (run / sub / MODEL_FILE).is_file():
            return run / sub
    return None


def resolve(name_or_path: str | Path | None) -> Path:
    """A bundled name ("yelp", "zh"), a model folder, or a run folder (its best/, else final/)."""
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
        return run_model(p) or p  # else the loader names what is missing
    raise TextcycleError(f"model not found: {name} (a model folder, a run folder, or one of: {', '.join(BUNDLED)})")


def resolve_image(name_or_path: str | Path) -> tuple[Path, str | None]:
    """(folder, default target domain) for an image model: a bundled name ("horse2zebra") is the
    bundled folder and its direction; anything else is a path, with no default direction."""
    if isinstance(name_or_path, str) and name_or_path in IMAGE_BUNDLED:
        folder, to = IMAGE_BUNDLED[name_or_path]
        bundled = PACKAGE_MODELS / folder
        if not bundled.is_dir():
            raise TextcycleError(f"the bundled image model {name_or_path!r} is not installed (no {bundled})")
        return bundled, to
    return Path(name_or_path), None


class ModelFolder:
    """A model folder with its checked config.json (`config`, defaults filled in)."""

    def __init__(self, path: Path, config: dict):
        self.path = Path(path)
        self.config = config
        self.kind = "lm" if config.get("model_type") == LM_MODEL_TYPE else "small"

    @classmethod
    def open(cls, model: "str | Path | ModelFolder | None" = None) -> "ModelFolder":
        """The folder a `--model` argument names (a ModelFolder is returned as it is)."""
        if isinstance(model, ModelFolder):
            return model
        path = resolve(model)
        return cls(path, read_config(path))

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r}, kind={self.kind!r})"

    # ------------------------------------------------------------ what the Rewriter needs to know
    @property
    def style_names(self) -> list[str]:
        return list(self.config["style_names"])

    @property
    def language(self) -> str:
        return self.config.get("language", "en")

    @property
    def max_length(self) -> int:
        return self.config.get("max_length", 40)

    @property
    def script(self) -> str | None:
        return self.config.get("script")

    @property
    def reward(self) -> dict:
        return dict(self.config.get("reward") or {"style_weight": 1.0, "content_weight": 1.0})

    @property
    def info(self) -> dict:
        """What the Rewriter reads: style names, language, the tokens a piece may have, script,
        reward weights, and the form the engine speaks: "corpus" (a small model: normalised text)
        or "natural" (an LM model: text as people write it; `max_source_tokens` per piece)."""
        lm = self.kind == "lm"
        return {
            "style_names": self.style_names,
            "language": self.language,
            "max_length": self.config.get("max_source_tokens", 64) if lm else self.max_length,
            "script": self.script,
            "reward": self.reward,
            "form": "natural" if lm else "corpus",
        }

    # ------------------------------------------------------------ files
    def file(self, name: str) -> Path:
        """`path / name`, which must exist: a missing one is one line naming it."""
        f = self.path / name
        if not f.is_file():
            raise TextcycleError(f"{self.path} is not a textcycle model: {name} is missing")
        return f

    @property
    def ct2(self) -> Path:
        """Where its CTranslate2 copy is (or would be)."""
        return self.path / CT2_DIR

    @property
    def has_ct2(self) -> bool:
        """Whether it has CTranslate2 copies (the manifest and both models) and the ctranslate2
        package is importable. Quick (no hashing): the engine still checks every file."""
        return has_copy(self.path) and importlib.util.find_spec("ctranslate2") is not None


def read_config(path: Path) -> dict:
    """config.json of a model folder, checked (see the module docstring); defaults filled in."""
    f = Path(path) / CONFIG
    if not f.is_file():
        raise TextcycleError(f"{path} is not a textcycle model: {CONFIG} is missing")
    try:
        config = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TextcycleError(f"{f} is corrupt: {e}") from None
    if not isinstance(config, dict):
        raise TextcycleError(f"{f}: expected a JSON object")
    if config.get("model_type") == LM_MODEL_TYPE:
        return _lm_config(config, f)
    _check_style_names(config.get("style_names"), f, exactly=2)
    language, ml = _check_language_and_length(config, f)
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


def _check_language_and_length(config: dict, f: Path) -> tuple[str, int]:
    language = config.get("language", "en")
    if language not in ("en", "zh"):
        raise TextcycleError(f"{f}: language must be en or zh, got {shown(language)}")
    ml = config.get("max_length", 40)
    if not isinstance(ml, int) or isinstance(ml, bool) or not 2 <= ml <= 4096:
        raise TextcycleError(f"{f}: max_length must be an integer from 2 to 4096, got {shown(ml)}")
    return language, ml


def _check_style_names(names, f: Path, exactly: int | None) -> None:
    ok = (
        isinstance(names, list)
        and (len(names) == exactly if exactly else len(names) >= 2)
        and all(isinstance(n, str) and n.strip() for n in names)
        and len(set(names)) == len(names)
    )
    if not ok:
        count = "two" if exactly == 2 else "at least two"
        raise TextcycleError(f"{f}: style_names must be a list of {count} different names, got {shown(names)}")


def _lm_config(config: dict, f: Path) -> dict:
    """An LM model's config.json: the spec (`text.lm_format.check_lm_spec`), two style names, and
    the discriminator's language, max length and sizes as a small model's."""
    from .text.lm_format import check_lm_spec

    spec = check_lm_spec(config, f)
    _check_style_names(spec.style_names, f, exactly=2)
    config = {**config, "style_names": spec.style_names}
    language, ml = _check_language_and_length(config, f)
    if not isinstance(config.get("discriminator"), dict):
        raise TextcycleError(f"{f}: 'discriminator' must be an object, got {shown(config.get('discriminator'))}")
    check_sizes(config, f, parts=("discriminator",))
    script = None
    if language == "zh" and (f.parent / TOKENIZER).is_file():  # the discriminator's vocabulary tells it
        import sentencepiece as spm

        from .text.textnorm import vocab_script

        script = vocab_script(spm.SentencePieceProcessor(model_file=str(f.parent / TOKENIZER)))
    return {**config, "language": language, "max_length": ml, "script": script}


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


def check_sizes(config: dict, f: Path, parts: tuple[str, ...] = ("generator", "discriminator")) -> None:
    """The generator's and discriminator's sizes in config.json: integers in the ranges a training
    config allows, checked before any engine builds a network, so a tampered size (vocab_size 1e12)
    is one line and not an attempt to allocate a petabyte."""
    from .text.config import allowed_range

    for part in parts:
        for name, key in SIZE_KEYS[part].items():
            v = config[part].get(name)
            lo, hi = allowed_range(key)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise TextcycleError(
                    f"{f}: {part}.{name} must be an integer from {lo} to {hi} "
                    f"(as {key} in a training config), got {shown(v)}"
                )
    heads = [("discriminator", config["discriminator"]["heads"], config["discriminator"]["d_model"])]
    if "generator" in parts:
        g = config["generator"]
        heads += [("generator", g[k], g["d_model"]) for k in ("encoder_attention_heads", "decoder_attention_heads")]
    for part, n_heads, d_model in heads:
        if d_model % n_heads:
            raise TextcycleError(
                f"{f}: {part}.d_model ({d_model}) must be divisible by its attention heads ({n_heads})"
            )
    d = config["discriminator"]
    if d.get("num_classes", 3) != 3:
        raise TextcycleError(f"{f}: discriminator.num_classes must be 3, got {shown(d.get('num_classes'))}")
