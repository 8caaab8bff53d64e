"""One exception type for problems a user can fix (bad input, missing files, bad config),
`shown`, how a bad value appears in its one-line message, and `warn`, the one-line warning.

Command-line entry points catch it and print a one-line message instead of a traceback.
"""

from __future__ import annotations

import reprlib
import sys
from typing import Any


class TextcycleError(Exception):
    """An error whose message is meant for the user, not a developer."""


class ConfigError(TextcycleError):
    """A config file or option is wrong (unknown key, wrong type, missing file)."""


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


def warn(message: str) -> None:
    """A one-line warning on stderr (the default `warn` callback of the commands' helpers)."""
    print(f"warning: {message}", file=sys.stderr)
