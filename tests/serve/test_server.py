"""`python -m textcycle.serve` for real: the bundled Yelp models (the default LM one and the small
one) end to end over a socket, and SIGTERM finishing the request in flight before a clean exit."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import REPO

httpx = pytest.importorskip("httpx")

NEGATIVE = "the food was cold and the waiter was rude"


def test_real_server_rewrites_with_the_bundled_model_and_stops_on_sigterm(start_server):
    server = start_server("--model", "yelp", "yelp-small", "--max-wait-ms", "5")
    server.wait_ready()
    models = httpx.get(f"{server.url}/v1/models").json()["models"]
    assert [m["name"] for m in models] == ["yelp", "yelp-small"] and models[0]["default"]
    assert all(m["style_names"] == ["negative", "positive"] for m in models)
    assert models[0]["engine"] == "ctranslate2-lm" and models[1]["engine"] in ("torch", "ctranslate2")
    small = httpx.post(f"{server.url}/v1/rewrite", json={"texts": [NEGATIVE], "model": "yelp-small"}, timeout=60)
    assert small.status_code == 200 and small.json()["model"] == "yelp-small"

    r = httpx.post(f"{server.url}/v1/rewrite", json={"texts": [NEGATIVE]}, timeout=60)
    assert r.status_code == 200, r.text
    (res,) = r.json()["results"]
    assert res["source"] == NEGATIVE and res["detected_style"] == "negative" and res["target_style"] == "positive"
    assert res["rewrite"] and res["rewrite"].lower() != NEGATIVE and 0 <= res["style_probability"] <= 1

    r = httpx.post(f"{server.url}/v1/rewrite", json={"texts": [NEGATIVE], "rerank": 3}, timeout=60)
    (res,) = r.json()["results"]
    assert res["candidates"][0]["text"] == res["rewrite"] and len(res["candidates"]) <= 3

    bad = httpx.post(f"{server.url}/v1/rewrite", json={"texts": ["x" * 2001]})
    assert bad.status_code == 422 and "2001 characters" in bad.json()["error"]

    # a slow request is in flight when SIGTERM comes: it is answered, then the server exits 0
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(
            httpx.post,
            f"{server.url}/v1/rewrite",
            json={"texts": [NEGATIVE] * 32, "rerank": 4, "model": "yelp-small"},
            timeout=120,
        )
        t0 = time.monotonic()
        while httpx.get(f"{server.url}/healthz").json()["queued"] == 0 and not slow.done():
            if time.monotonic() - t0 > 2:  # it may already be running (queued counts waiting texts only)
                break
            time.sleep(0.01)
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        answer = slow.result(120)
    assert answer.status_code == 200 and len(answer.json()["results"]) == 32
    assert server.proc.wait(60) == 0
    log = server.log()
    assert "Shutting down" in log and "Traceback" not in log
    assert log.count('"POST /v1/rewrite"') == 5 and "error 422 POST /v1/rewrite: texts[0] is 2001" in log
    with pytest.raises(httpx.HTTPError):  # no longer listening
        httpx.get(f"{server.url}/healthz", timeout=2)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "no-such-model"], "model not found"),
        (["--max-batch", "0"], "--max-batch must be at least 1"),
        (["--batches-in-flight", "0"], "--batches-in-flight must be at least 1"),
        (["--model", "yelp", "yelp"], "same name"),
        (["--port", "70000"], "--port"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args, message):
    p = subprocess.run(
        [sys.executable, "-m", "textcycle.serve", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_default_engine_threads_give_ctranslate2_every_core(monkeypatch):
    import os

    from textcycle.serve.__main__ import default_threads

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert [default_threads("auto", 1), default_threads("ct2", 2), default_threads("ct2", 3)] == [4, 2, 1]
    assert [default_threads("torch", 1), default_threads("torch", 2), default_threads("torch", 4)] == [3, 1, 1]
