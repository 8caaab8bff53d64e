"""The YAML loader of both halves' configs: unknown keys are errors, not silent typos.

A config is a tree of dataclasses. `load_config(path, Cls)` reads YAML into it, checks each key
against the dataclass fields and each value against the field's type, and applies `a.b=c`
overrides from the command line. The text options are `textcycle.text.config`, the image options
`textcycle.image.config`; each half checks its own ranges.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, shown


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


_YAML11_EXPONENT = re.compile(r"[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+")


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


def load_config(path: str | Path | None, cls=None, overrides: list[str] | None = None):
    """Read a YAML config into dataclass `cls` (defaults where `path` is None; `cls` None: the
    text method's `TextCycleConfig`); `path` may be a packaged config's name (see `resolve_config`)."""
    if cls is None:
        from .text.config import TextCycleConfig as cls
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


# the text options moved to textcycle.text.config (issue 25); these names work here until 0.2
_TEXT_NAMES = (
    "DataConfig",
    "TokenizerConfig",
    "GeneratorConfig",
    "DiscriminatorConfig",
    "TrainConfig",
    "TextCycleConfig",
    "validate_text_config",
    "allowed_range",
    "architecture_changes",
)


def __getattr__(name):
    if name in _TEXT_NAMES:
        from .text import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
