"""Helpers for the server tests: a fast fake engine behind the real Rewriter, an app with it,
and a real `python -m textcycle.serve` subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the server tests need the [serve] extra (fastapi, uvicorn, httpx)")
pytest.importorskip("httpx", reason="the server tests need httpx")

import sentencepiece as spm  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from textcycle.engines.pieces import SentencePieceTexts  # noqa: E402
from textcycle.model_folder import PACKAGE_MODELS  # noqa: E402
from textcycle.rewrite import Rewriter  # noqa: E402
from textcycle.serve.app import create_app  # noqa: E402
from textcycle.serve.settings import Settings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
POSITIVE_WORDS = ("good", "great", "friendly", "delicious", "love")


class FakeEngine(SentencePieceTexts):
    """The engine interface (`textcycle.engines.base`) in a few lines: "rewrites" copy the
    source, the discriminator calls a text positive when it has a positive word. `gate`
    (a threading.Event) holds every generate() until set, to keep a batch running."""

    name = "fake"
    cost_factor = 1

    def __init__(self, sp):
        self.sp, self.language, self.max_length = sp, "en", 24
        self.positive_ids = {i for w in POSITIVE_WORDS for i in sp.encode(w)[-1:]}
        self.gate = threading.Event()
        self.gate.set()
        self.generating = threading.Event()  # set while a generate() waits at the gate

    def set_seed(self, seed):
        pass

    def style_logits_ids(self, ids):
        pos = np.array([2.0 if self.positive_ids & set(row) else -2.0 for row in ids])
        return np.stack([-pos, pos, np.full(len(ids), -4.0)], axis=1).astype(np.float32)

    def generate_ids(self, ids, to, beam=1, sample=False, temperature=1.0, num_hypotheses=1):
        self.generating.set()
        try:
            assert self.gate.wait(20), "the test never opened the gate"
        finally:
            self.generating.clear()
        if sample:  # samples: the source with its last word dropped, then shorter still
            return [[row[: max(1, len(row) - 1 - k)] + [3] for k in range(num_hypotheses)] for row in ids]
        return [[list(row)] * num_hypotheses for row in ids]

    def logprobs_ids(self, src, tgt, generator):
        return np.array([-0.1 * abs(len(s) - len(t)) - 0.2 for s, t in zip(src, tgt)], dtype=np.float32)


class CountingRewriter:
    """A Rewriter whose rewrite() calls are counted: `calls` holds each call's texts."""

    def __init__(self, rw):
        self._rw, self.calls, self.fail_on = rw, [], None

    def __getattr__(self, name):
        return getattr(self._rw, name)

    def rewrite(self, texts, *args, **kwargs):
        self.calls.append(list(texts))
        if self.fail_on and any(self.fail_on in t for t in texts):
            raise RuntimeError(f"the engine broke on {self.fail_on!r}")
        return self._rw.rewrite(texts, *args, **kwargs)


def fake_rewriter() -> CountingRewriter:
    sp = spm.SentencePieceProcessor(model_file=str(PACKAGE_MODELS / "yelp" / "tokenizer.model"))
    info = {"style_names": ["negative", "positive"], "language": "en", "max_length": 24}
    return CountingRewriter(Rewriter(engine=FakeEngine(sp), info=info, warn=lambda m: None))


def wait_ready(client, timeout=20.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if client.get("/healthz").json()["ready"]:
            return
        time.sleep(0.01)
    raise AssertionError("the app never became ready")


@pytest.fixture
def make_client():
    """make_client(**settings) -> (TestClient running the app's lifespan, the fake rewriter)."""
    opened = []

    def make(**kw):
        rw = fake_rewriter()
        settings = Settings(models=kw.pop("models", ["yelp"]), **kw)
        client = TestClient(create_app(settings, load=lambda where: rw), raise_server_exceptions=False)
        client.__enter__()
        opened.append((client, rw))
        wait_ready(client)
        rw.calls.clear()  # the warm-up call
        return client, rw

    yield make
    for client, rw in opened:
        rw.engine.gate.set()  # never leave a batch waiting at a closed gate
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m textcycle.serve` on a free loopback port, its stderr in a file; with
    `fake=True` the same command line over the tests' fake engine (`fake_serve.py`)."""

    def __init__(self, tmp_path: Path, *args: str, fake: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"serve-{self.port}.log"
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [str(Path(__file__).with_name("fake_serve.py"))] if fake else ["-m", "textcycle.serve"]
        self.proc = subprocess.Popen(
            [sys.executable, *command, "--port", str(self.port), *args],
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 180.0) -> None:
        import httpx

        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz?ready=true", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the server was not ready in {timeout:.0f} s:\n{self.log()}")

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def start_server(tmp_path):
    started = []

    def start(*args: str, fake: bool = False) -> ServerProcess:
        server = ServerProcess(tmp_path, *args, fake=fake)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
