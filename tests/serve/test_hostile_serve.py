"""The server against hostile or careless clients (issue 24's sweep): work bounded by its cost
and shared fairly, log lines that cannot be forged, slow clients timed out, Host headers
checked, shutdown past its grace time, startup errors, inputs outside the contract, and models
that fail to load. Each test names the sweep's item it covers."""

from __future__ import annotations

import asyncio
import json
import logging
import select
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from textcycle.errors import TextcycleError
from textcycle.serve.app import create_app, short_reason
from textcycle.serve.batching import Batcher
from textcycle.serve.settings import Settings
from textcycle.serve.work import text_cost

from .conftest import REPO, TestClient, fake_rewriter
from .test_api import assert_json_error
from .test_batching import gated_run, run_async, start_behind_gate, wait_queued

httpx = pytest.importorskip("httpx")


# ---------------------------------------------------------------- 2: work bounded by its cost


def test_text_cost_is_tokens_times_candidates():
    assert text_cost("") == 1 and text_cost("a" * 400) == 101
    assert text_cost("a" * 400, 64) == 101 * 64
    assert text_cost("服务很好") == 1 + 12 // 4  # 3 bytes a character in UTF-8
    assert text_cost("a" * 400, 4, factor=8) == 101 * 4 * 8  # an LM's engine: 8 small-model units a token


def test_work_over_the_cost_caps_is_refused_with_413(make_client):
    client, rw = make_client(max_batch_cost=100, max_request_cost=300, max_queued_cost=1000)
    # one text over a batch's worth: it cannot be split, so it is refused
    msg = assert_json_error(client.post("/v1/rewrite", json={"texts": ["ok", "a" * 400]}), 413)
    assert "texts[1]" in msg and "101" in msg and "100 per text" in msg
    # a short text, but 4 candidates of it
    msg = assert_json_error(client.post("/v1/rewrite", json={"texts": ["a" * 100], "rerank": 4}), 413)
    assert "26 tokens x 4 candidates" in msg
    # every text fits, the request does not
    msg = assert_json_error(client.post("/v1/rewrite", json={"texts": ["a" * 200] * 8}), 413)
    assert "408" in msg and "300 per request" in msg
    assert rw.calls == []  # nothing reached the engine
    assert client.post("/v1/rewrite", json={"texts": ["a" * 200] * 5}).status_code == 200
    limits = client.get("/v1/models").json()["limits"]
    assert (limits["max_text_cost"], limits["max_request_cost"], limits["max_queued_cost"]) == (100, 300, 1000)
    # a model whose engine costs 4 units a token: the text that fit above is now over the cap
    rw.engine.cost_factor = 4
    msg = assert_json_error(client.post("/v1/rewrite", json={"texts": ["a" * 200]}), 413)
    assert "51 tokens x 1 candidates x this model's cost factor 4" in msg and "100 per text" in msg


def test_a_queue_full_of_work_sheds_with_503_and_retry_after(make_client):
    """The queue holds 4 texts here, far under --max-queue; their work fills it."""
    client, rw = make_client(
        max_wait_ms=0, max_batch_cost=100, max_request_cost=300, max_queued_cost=300, retry_after_s=3
    )
    first, pool = start_behind_gate(client, rw, {"texts": ["running"]})
    with ThreadPoolExecutor(1) as senders:
        waiting = senders.submit(client.post, "/v1/rewrite", json={"texts": ["a" * 200] * 4})  # 204
        wait_queued(client, 4)
        assert client.get("/healthz").json()["queued_cost"] == 204
        r = client.post("/v1/rewrite", json={"texts": ["b" * 396]})  # 100 more: over 300
        assert "units of work waiting" in assert_json_error(r, 503) and r.headers["retry-after"] == "3"
        rw.engine.gate.set()
        assert waiting.result(20).status_code == 200 and first.result(20).status_code == 200
    pool.shutdown()
    assert client.get("/healthz").json()["queued_cost"] == 0
    assert client.post("/v1/rewrite", json={"texts": ["b" * 396]}).status_code == 200  # recovered


def test_a_cheap_request_runs_between_the_parts_of_an_expensive_one(make_client):
    """An expensive request (4 texts of 24 units, a batch holds 30) runs in 4 parts; a cheap
    one that arrives during the first part runs right after it, not after all four."""
    client, rw = make_client(max_wait_ms=0, max_batch_cost=30)
    long = [f"review {k}: " + "the food was cold and the waiter was rude " * 2 for k in range(4)]
    assert {text_cost(t) for t in long} == {24}
    rw.engine.gate.clear()
    with ThreadPoolExecutor(2) as senders:
        expensive = senders.submit(client.post, "/v1/rewrite", json={"texts": long})
        assert rw.engine.generating.wait(10)
        cheap = senders.submit(client.post, "/v1/rewrite", json={"texts": ["great pizza"]})
        wait_queued(client, 4)  # 3 texts of the expensive one, the cheap one
        rw.engine.gate.set()
        answers = expensive.result(20), cheap.result(20)
    assert rw.calls == [long[:1], ["great pizza"], long[1:2], long[2:3], long[3:]]
    assert [x["source"] for x in answers[0].json()["results"]] == long  # its parts, back in order
    assert answers[1].json()["results"][0]["source"] == "great pizza"


def test_batcher_runs_an_expensive_job_in_parts_with_others_between():
    """Job E (3 texts of cost 10, a batch holds 10) under one key, a cheap job under another
    key arriving while E's first part runs: E1, then the cheap one, then E2, E3."""
    gate, seen, run = gated_run(lambda texts: [t.upper() for t in texts])

    async def scenario():
        b = Batcher(run, max_wait_ms=0, max_batch_cost=10)
        await b.start()
        expensive = asyncio.create_task(b.submit("rerank 64", ["e1", "e2", "e3"], [10, 10, 10]))
        while not seen:
            await asyncio.sleep(0.001)
        cheap = asyncio.create_task(b.submit("greedy", ["c"], [1]))
        await asyncio.sleep(0.01)
        assert (b.queued, b.queued_cost) == (3, 21)
        gate.set()
        out = await expensive, await cheap
        await b.close()
        return out

    assert run_async(scenario()) == (["E1", "E2", "E3"], ["C"])
    assert seen == [["e1"], ["c"], ["e2"], ["e3"]]


def test_batcher_drops_the_rest_of_a_job_whose_part_failed():
    def run(key, texts):
        if "bad" in texts:
            raise ValueError("bad input")
        return texts

    async def scenario():
        b = Batcher(run, max_wait_ms=0, max_batch_cost=1)
        await b.start()
        results = await asyncio.gather(b.submit("k", ["bad", "x", "y"]), return_exceptions=True)
        out = results, b.engine_calls, b.queued, b.queued_cost
        await b.close()
        return out

    (error,), calls, queued, cost = run_async(scenario())
    assert isinstance(error, ValueError) and calls == 1 and (queued, cost) == (0, 0)


# ---------------------------------------------------------------- 3: log lines cannot be forged

FORGED = "/a%0a2099-01-01 00:00:00,000 [1] INFO textcycle.serve: forged line%1b%5b31m".replace(" ", "%20")


def test_log_lines_escape_control_characters(client, caplog):
    with caplog.at_level("INFO", logger="textcycle.serve"):
        client.get(FORGED)
    lines = [r.getMessage() for r in caplog.records if r.name == "textcycle.serve"]
    assert len(lines) == 2  # the access line and the 404's error line
    for line in lines:
        assert "\n" not in line and "\x1b" not in line
        assert "\\x0a2099-01-01" in line and "forged line\\x1b[31m" in line


def test_the_log_format_escapes_every_message_but_keeps_tracebacks():
    from textcycle.serve.logs import EscapingFormatter

    fmt = EscapingFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "bad %s", ("x\ny\x1b[0m\u202e\r",), None)
    assert fmt.format(record) == "WARNING bad x\\x0ay\\x1b[0m\\u202e\\x0d"
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "line\none", (), sys.exc_info())
    text = fmt.format(record)
    assert text.startswith("ERROR line\\x0aone\nTraceback") and "ValueError: boom" in text


# ---------------------------------------------------------------- 4: Host header


def test_only_the_allowed_hosts_are_answered():
    rw = fake_rewriter()
    with TestClient(
        create_app(Settings(allowed_hosts=["localhost", "[::1]", "127.0.0.1"]), load=lambda where: rw)
    ) as client:
        msg = assert_json_error(client.get("/healthz"), 400)  # TestClient's Host is "testserver"
        assert "testserver" in msg
        for host in ("localhost", "localhost:8000", "LOCALHOST.", "127.0.0.1:1", "[::1]:8000"):
            assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
        for host in ("evil.example", "localhost.evil.example:8000", "127.0.0.2"):
            assert_json_error(client.post("/v1/rewrite", json={"texts": ["a"]}, headers={"Host": host}), 400)
        assert all(call == ["the food was good ."] for call in rw.calls)  # the warm-up only


def test_allowed_hosts_default_to_loopback_names_on_loopback():
    from textcycle.serve.__main__ import allowed_hosts, build_parser

    def hosts(*argv):
        return allowed_hosts(build_parser().parse_args(list(argv)))

    assert hosts() == hosts("--host", "::1") == hosts("--host", "localhost") == ["localhost", "127.0.0.1", "::1"]
    assert hosts("--host", "0.0.0.0") == hosts("--host", "192.168.1.5") == ["*"]
    assert hosts("--allowed-hosts", "example.com, api.example.com") == ["example.com", "api.example.com"]
    with pytest.raises(TextcycleError):
        hosts("--allowed-hosts", " , ")


# ---------------------------------------------------------------- 4, 3, 25: a real process


def talk(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes; everything the server sends back until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def seconds_until_closed(port: int, first: bytes, limit: float = 10.0) -> float | None:
    """Send `first`, then one more byte every 0.2 s (never a whole request): the seconds until
    the server closes the connection, or None if it is still open after `limit`."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(first)
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if select.select([s], [], [], 0.2)[0]:
                try:
                    if not s.recv(65536):
                        return time.monotonic() - t0
                except ConnectionResetError:
                    return time.monotonic() - t0
            try:
                s.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0
    return None


def test_a_real_server_against_hostile_requests(start_server):
    server = start_server("--header-timeout", "1", "--body-timeout", "1", fake=True)
    server.wait_ready(60)
    port = server.url.rsplit(":", 1)[1]

    # 4: Host headers (loopback: only the loopback names, any port)
    r = httpx.get(f"{server.url}/healthz", headers={"Host": "rebound.evil.example"})
    assert r.status_code == 400 and "rebound.evil.example" in r.json()["error"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert httpx.get(f"{server.url}/healthz", headers={"Host": host}).status_code == 200

    # 4: slow clients: headers, a body, the next request on a kept-alive connection
    port = int(port)
    slow_headers = seconds_until_closed(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
    slow_body = seconds_until_closed(
        port,
        b"POST /v1/rewrite HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    kept_alive = seconds_until_closed(
        port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nX-Slow: "
    )
    assert slow_headers is not None and slow_body is not None and kept_alive is not None, (
        slow_headers,
        slow_body,
        kept_alive,
    )
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # still serving

    # 25: a Content-Length h11 cannot parse: the JSON error shape
    reply = talk(
        port,
        b"POST /v1/rewrite HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n",
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in head.lower()
    assert set(json.loads(body)) == {"error"}

    # 25: HEAD / like GET / without the body
    reply = talk(port, b"HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"text/html" in head and body == b""

    # 3: a path that tries to forge a log line and colour the terminal
    assert talk(port, f"GET {FORGED} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()).startswith(
        b"HTTP/1.1 404"
    )
    assert server.stop() == 0
    log = server.log()
    assert "\x1b" not in log and not any(line.startswith("2099-01-01") for line in log.splitlines())
    assert log.count("forged line\\x1b[31m") == 2  # the access line and the 404's error line
    assert "the request headers took over 1 s" in log and "the request body took over 1 s" in log


# ---------------------------------------------------------------- 23: SIGTERM past the grace time


def test_sigterm_with_a_batch_past_the_graceful_timeout_answers_503_and_exits_in_time(start_server):
    server = start_server("--graceful-timeout", "1", fake=True)
    server.wait_ready(60)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(httpx.post, f"{server.url}/v1/rewrite", json={"texts": ["a sleepy text"]}, timeout=90)
        t0 = time.monotonic()
        while httpx.get(f"{server.url}/healthz").json()["batches"] < 1:  # its batch is in the engine
            assert time.monotonic() - t0 < 20 and not slow.done()
            time.sleep(0.05)
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        try:
            status = server.proc.wait(30)  # the batch sleeps 60 s
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server was still running 30 s after SIGTERM:\n{server.log()}")
        took = time.monotonic() - t0
        r = slow.result(30)
    assert status == 0 and took < 15, took
    assert_json_error(r, 503)
    assert "shutting down" in r.json()["error"] and r.headers["retry-after"]
    log = server.log()
    assert "Traceback" not in log and "CancelledError" not in log, log
    assert "error 503 POST /v1/rewrite: the server is shutting down" in log


# ---------------------------------------------------------------- 24, 25: the command line


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "textcycle.serve", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def assert_one_line_exit_2(p: subprocess.CompletedProcess, message: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert message in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_a_busy_port_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line_exit_2(run_cli("--port", str(port)), f"cannot serve on 127.0.0.1:{port}")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--host", "192.0.2.1"], "cannot serve on 192.0.2.1:"),  # an address this machine does not have
        (["--model", "=yelp"], "needs both a name and a folder"),
        (["--model", "yelp", "mine="], "needs both a name and a folder"),
        (["--allowed-hosts", ","], "--allowed-hosts"),
        (["--header-timeout", "0"], "--header-timeout"),
        (["--max-batch-cost", "0"], "--max-batch-cost must be at least 1"),
        (["--max-request-cost", "100", "--max-queue-cost", "50"], "--max-request-cost (100) must be at most"),
    ],
)
def test_bad_serving_options_are_one_line_and_exit_2(args, message):
    assert_one_line_exit_2(run_cli(*args), message)


# ---------------------------------------------------------------- 25: outside the contract


def test_a_body_without_content_type_is_415(client):
    request = client.build_request("POST", "/v1/rewrite", content=b'{"texts": ["a"]}')
    assert "content-type" not in request.headers
    assert "no Content-Type" in assert_json_error(client.send(request), 415)


def test_head_works_like_get_without_the_body(client):
    for path in ("/", "/healthz", "/v1/models", "/static/app.js", "/openapi.json"):
        get, head = client.get(path), client.head(path)
        assert get.status_code == head.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"], path
    assert client.head("/nope").status_code == 404


# ---------------------------------------------------------------- 26, 27: a model that fails to load

SECRET = "/srv/secret-place/models"


def broken_loader(rw):
    def load(where):
        if where.endswith("broken"):
            raise TextcycleError(f"{SECRET}/broken/tokenizer.model: not a valid SentencePiece model (bad header)")
        if where.endswith("gone"):
            raise FileNotFoundError(f"[Errno 2] No such file or directory: '{SECRET}/gone/model.safetensors'")
        return rw

    return load


def loaded(client):
    for _ in range(400):
        h = client.get("/healthz").json()
        if h["status"] != "loading":
            return h
        time.sleep(0.01)
    raise AssertionError("the models never loaded")


def test_short_reason_keeps_no_folders():
    assert short_reason(f"{SECRET}/x/config.json is corrupt: line 1\nmore") == "config.json is corrupt: line 1"
    assert (
        short_reason("model not found: runs/mine/best (a model folder, ...)")
        == "model not found: best (a model folder, ...)"
    )


def test_the_models_that_loaded_serve_beside_one_that_failed(caplog):
    rw = fake_rewriter()
    with (
        caplog.at_level("ERROR", logger="textcycle.serve"),
        TestClient(create_app(Settings(models=["yelp", f"bad={SECRET}/broken"]), load=broken_loader(rw))) as client,
    ):
        h = loaded(client)
        assert h["status"] == "ready" and h["ready"] is True and h["models"] == ["yelp"]
        assert h["failed"] == {"bad": "tokenizer.model: not a valid SentencePiece model (bad header)"}
        assert client.get("/healthz?ready=true").status_code == 200
        assert client.post("/v1/rewrite", json={"texts": ["the food was cold"]}).status_code == 200
        msg = assert_json_error(client.post("/v1/rewrite", json={"texts": ["a"], "model": "bad"}), 503)
        assert msg == "model bad failed to load: tokenizer.model: not a valid SentencePiece model (bad header)"
        assert [m["name"] for m in client.get("/v1/models").json()["models"]] == ["yelp"]
        everything = json.dumps([client.get(p).json() for p in ("/healthz", "/v1/models")])
        assert SECRET not in everything
    # the log has the whole error, with the folder, for whoever runs the server
    assert any(f"{SECRET}/broken/tokenizer.model" in r.getMessage() for r in caplog.records)


def test_a_failed_default_model_is_503_and_the_others_still_serve():
    rw = fake_rewriter()
    with TestClient(create_app(Settings(models=[f"first={SECRET}/gone", "yelp"]), load=broken_loader(rw))) as client:
        h = loaded(client)
        assert h["status"] == "ready" and h["failed"] == {
            "first": "FileNotFoundError: [Errno 2] No such file or directory: 'model.safetensors'"
        }
        msg = assert_json_error(client.post("/v1/rewrite", json={"texts": ["a"]}), 503)  # the default: first
        assert msg.startswith("model first failed to load") and SECRET not in msg
        assert client.post("/v1/rewrite", json={"texts": ["a"], "model": "yelp"}).status_code == 200


def test_when_every_model_fails_no_answer_shows_a_folder():
    with TestClient(create_app(Settings(models=[f"bad={SECRET}/broken"]), load=broken_loader(None))) as client:
        h = loaded(client)
        assert h["status"] == "failed" and h["ready"] is False and SECRET not in json.dumps(h)
        assert "tokenizer.model" in h["error"]
        msg = assert_json_error(client.post("/v1/rewrite", json={"texts": ["a"]}), 503)
        assert "model bad failed to load" in msg and SECRET not in msg
        assert SECRET not in assert_json_error(client.get("/v1/models"), 503)
