"""A worker's settings (no FastAPI here: the command line checks them before importing it)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..model_folder import BUNDLED

SETTINGS_ENV = "TEXTCYCLE_SERVE_SETTINGS"  # how `--workers N` hands the settings to each worker


@dataclass
class Settings:
    """Everything a worker needs; `python -m textcycle.serve --help` documents each."""

    models: list[str] = field(default_factory=lambda: ["yelp"])
    engine: str = "auto"
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_batch: int = 256
    max_wait_ms: float = 10.0
    batching: bool = True
    max_inflight: int = 1  # batches the engine works on at once
    max_body_bytes: int = 1_000_000
    max_texts: int = 256
    max_chars: int = 2000
    max_queued: int = 4096
    # engine work, in units of about one token x one candidate (work.text_cost): per batch (a
    # text over it is refused), per request, and waiting per worker
    max_batch_cost: int = 8192
    max_request_cost: int = 32768
    max_queued_cost: int = 65536
    retry_after_s: int = 1
    # Host header values answered (any port); "*": any. The command line's default is the
    # loopback names when it listens on loopback (against DNS rebinding), else "*"
    allowed_hosts: list[str] = field(default_factory=lambda: ["*"])
    # True: a worker takes connections only once its models are loaded (--workers > 1: the
    # others serve meanwhile); False: /healthz answers "loading" from the start (one worker)
    load_before_serving: bool = False
    # True (the command line): at shutdown, exit the process at once even if an engine call
    # is still running (past --graceful-timeout; it cannot be interrupted)
    hard_exit: bool = False

    def model_names(self) -> list[tuple[str, str]]:
        """(name, bundled name or folder) per --model: `NAME=PATH`, a bundled name, or a folder
        (named after it; a run's best/ or final/ after the run)."""
        out = []
        for spec in self.models:
            name, sep, where = spec.partition("=")
            if not sep:
                where = spec
                p = Path(spec)
                name = spec if spec in BUNDLED else (p.parent.name if p.name in ("best", "final") else p.name)
            out.append((name or where, where))
        return out


def settings_json(settings: Settings) -> str:
    return json.dumps(asdict(settings))
