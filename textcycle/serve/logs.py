"""Log lines a client cannot forge: control characters in what the server logs are escaped.

A request path is the client's text (uvicorn decodes %0a to a newline, %1b to ESC), and so are
parts of some error messages. Written as is, `GET /%0a2024-01-01 ... forged` starts a log line
of its own and `%1b[31m` colours the terminal of whoever reads the log.
"""

from __future__ import annotations

import logging
import re

# C0 and C1 controls (newline, carriage return, ESC, ...), DEL, the Unicode line and paragraph
# separators, and the bidirectional controls (which reorder how a terminal shows the rest of a line)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character as a `\\xNN` or `\\uNNNN` escape."""
    return _CONTROL.sub(_escape, text)


class EscapingFormatter(logging.Formatter):
    """The command line's log format: every message escaped (uvicorn's lines and ours); a
    traceback logged below a message keeps its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)
