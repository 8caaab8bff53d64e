"""`python -m textcycle.serve` (the real command line, uvicorn and process) with the tests'
fake engine instead of a real model, so it is ready in a second. For the tests that need a
real process: signals, sockets, timeouts, the log as written. A text with "sleepy" in it keeps
its batch in the engine for 60 s.

    python tests/serve/fake_serve.py --port 8123 --graceful-timeout 1
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `serve` is the tests' package

from serve.conftest import fake_rewriter  # noqa: E402
from textcycle.serve import app  # noqa: E402
from textcycle.serve.__main__ import main  # noqa: E402


def load(self, where):
    rw = fake_rewriter()
    rewrite = rw.rewrite

    def sleepy_rewrite(texts, *args, **kwargs):
        if any("sleepy" in t for t in texts):
            time.sleep(60)
        return rewrite(texts, *args, **kwargs)

    rw.rewrite = sleepy_rewrite
    return rw


if __name__ == "__main__":
    app.Server._load_pretrained = load
    sys.exit(main())
