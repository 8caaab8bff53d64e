"""Dynamic batching: requests that arrive together share one engine call, each gets its own
answers in order; the queue is bounded (503 + Retry-After); a request whose client is gone
leaves the queue unstarted; one failing request does not fail the others of its batch."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from textcycle.serve.batching import Batcher, QueueFull

from .conftest import fake_rewriter


def post_all(client, bodies):
    """Send the bodies at once, from threads; the responses in the bodies' order."""
    with ThreadPoolExecutor(len(bodies)) as pool:
        futures = [pool.submit(client.post, "/v1/rewrite", json=b) for b in bodies]
        return [f.result(30) for f in futures]


def start_behind_gate(client, rw, body):
    """Close the engine's gate, send `body` from a thread, and wait until its batch is running."""
    rw.engine.gate.clear()
    pool = ThreadPoolExecutor(1)
    future = pool.submit(client.post, "/v1/rewrite", json=body)
    assert rw.engine.generating.wait(10), "the first batch never reached the engine"
    return future, pool


def wait_queued(client, n, timeout=10):
    t0 = time.monotonic()
    while client.get("/healthz").json()["queued"] != n:
        assert time.monotonic() - t0 < timeout, f"the queue never held {n} texts"
        time.sleep(0.005)


def gated_run(transform=lambda texts: list(texts)):
    """An engine `run` that records each batch, then waits for `gate`: (gate, seen, run)."""
    gate, seen = threading.Event(), []

    def run(key, texts):
        seen.append(list(texts))
        gate.wait(10)
        return transform(texts)

    return gate, seen, run


def test_two_concurrent_requests_share_one_engine_call(make_client):
    client, rw = make_client(max_wait_ms=1000, max_batch=64)
    a, b = post_all(client, [{"texts": ["the food was cold", "the staff was rude"]}, {"texts": ["great pizza"]}])
    assert len(rw.calls) == 1 and sorted(rw.calls[0]) == sorted(
        ["the food was cold", "the staff was rude", "great pizza"]
    )
    assert [x["source"] for x in a.json()["results"]] == ["the food was cold", "the staff was rude"]
    assert [x["source"] for x in b.json()["results"]] == ["great pizza"]
    assert b.json()["results"][0]["detected_style"] == "positive"
    h = client.get("/healthz").json()
    assert (h["batches"], h["batched_texts"]) == (1, 3)  # what bench_serve's "mean batch" reads


def test_without_batching_each_request_is_its_own_call(make_client):
    client, rw = make_client(max_wait_ms=1000, batching=False)
    post_all(client, [{"texts": ["a b"]}, {"texts": ["c d"]}])
    assert sorted(rw.calls) == [["a b"], ["c d"]]


def test_requests_queued_behind_a_running_batch_go_together(make_client):
    client, rw = make_client(max_wait_ms=0)
    first, pool = start_behind_gate(client, rw, {"texts": ["first"]})
    t0 = time.monotonic()
    assert client.get("/healthz").status_code == 200  # the event loop answers while the engine works
    assert time.monotonic() - t0 < 2
    with ThreadPoolExecutor(2) as senders:
        second = senders.submit(client.post, "/v1/rewrite", json={"texts": ["second one", "second two"]})
        wait_queued(client, 2)
        third = senders.submit(client.post, "/v1/rewrite", json={"texts": ["third"]})
        wait_queued(client, 3)
        rw.engine.gate.set()
        answers = [f.result(20).json()["results"] for f in (first, second, third)]
    pool.shutdown()
    assert rw.calls == [["first"], ["second one", "second two", "third"]]
    assert [[x["source"] for x in a] for a in answers] == [["first"], ["second one", "second two"], ["third"]]


def test_max_batch_and_option_sets_split_batches(make_client):
    client, rw = make_client(max_wait_ms=0, max_batch=2)
    first, pool = start_behind_gate(client, rw, {"texts": ["first"]})
    bodies = [
        {"texts": ["p1"], "to": "positive"},
        {"texts": ["p2"], "to": "positive"},
        {"texts": ["p3"], "to": "positive"},
        {"texts": ["n1"], "to": "negative"},
    ]
    with ThreadPoolExecutor(4) as senders:
        futures = []
        for k, body in enumerate(bodies, 1):
            futures.append(senders.submit(client.post, "/v1/rewrite", json=body))
            wait_queued(client, k)
        rw.engine.gate.set()
        answers = [f.result(20) for f in futures]
    first.result(20)
    pool.shutdown()
    assert rw.calls == [["first"], ["p1", "p2"], ["p3"], ["n1"]]
    assert [a.json()["results"][0]["target_style"] for a in answers] == ["positive"] * 3 + ["negative"]


def test_a_full_queue_answers_503_with_retry_after(make_client):
    client, rw = make_client(max_wait_ms=0, max_queued=3, retry_after_s=2)
    first, pool = start_behind_gate(client, rw, {"texts": ["running"]})
    with ThreadPoolExecutor(1) as senders:
        waiting = senders.submit(client.post, "/v1/rewrite", json={"texts": ["q1", "q2", "q3"]})
        wait_queued(client, 3)
        r = client.post("/v1/rewrite", json={"texts": ["one too many"]})
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert "queue is full" in r.json()["error"] and set(r.json()) == {"error"}
        assert client.get("/healthz").json()["ready"] is True  # still alive and ready
        rw.engine.gate.set()
        assert waiting.result(20).status_code == 200 and first.result(20).status_code == 200
    pool.shutdown()
    assert client.post("/v1/rewrite", json={"texts": ["after"]}).status_code == 200  # recovered


# ---------------------------------------------------------------- the Batcher alone


def run_async(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_batcher_drops_a_cancelled_job_that_had_not_started():
    gate, seen, run = gated_run(lambda texts: [t.upper() for t in texts])

    async def scenario():
        b = Batcher(run, max_wait_ms=0)
        await b.start()
        running = asyncio.create_task(b.submit("k", ["a"]))
        while not seen:
            await asyncio.sleep(0.001)
        gone = asyncio.create_task(b.submit("k", ["gone"]))
        kept = asyncio.create_task(b.submit("k", ["kept"]))
        await asyncio.sleep(0.01)
        assert b.queued == 2
        gone.cancel()
        await asyncio.sleep(0.01)
        assert b.queued == 1
        gate.set()
        out = await running, await kept
        await b.close()
        return out

    assert run_async(scenario()) == (["A"], ["KEPT"])
    assert seen == [["a"], ["kept"]]  # "gone" never reached the engine


def test_batcher_isolates_a_failing_job():
    def run(key, texts):
        if "bad" in texts:
            raise ValueError("bad input")
        return [len(t) for t in texts]

    async def scenario():
        b = Batcher(run, max_wait_ms=50)
        await b.start()
        results = await asyncio.gather(
            b.submit("k", ["good", "xx"]), b.submit("k", ["bad"]), b.submit("k", ["yyy"]), return_exceptions=True
        )
        calls = b.engine_calls
        await b.close()
        return results, calls

    (good, bad, other), calls = run_async(scenario())
    assert good == [4, 2] and other == [3] and isinstance(bad, ValueError)
    assert calls == 4  # the shared call, then each job alone


def test_batcher_queue_bound():
    async def scenario():
        b = Batcher(lambda key, texts: texts, max_queued=2, max_wait_ms=1000)
        await b.start()
        first = asyncio.create_task(b.submit("k", ["a", "b"]))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await b.submit("k", ["c"])
        out = await first
        await b.close()
        return out

    assert run_async(scenario()) == ["a", "b"]


# ---------------------------------------------------------------- a client that hangs up


def test_a_disconnected_client_costs_nothing_further():
    """A real uvicorn server in a thread: a request whose client closes its socket while the
    request waits in the queue is dropped before it reaches the engine."""
    import uvicorn

    from textcycle.serve.app import create_app
    from textcycle.serve.settings import Settings

    from .conftest import free_port

    rw = fake_rewriter()
    app = create_app(Settings(max_wait_ms=0), load=lambda where: rw)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    import httpx

    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if httpx.get(f"{base}/healthz?ready=true", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.025)
        rw.calls.clear()
        rw.engine.gate.clear()
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(httpx.post, f"{base}/v1/rewrite", json={"texts": ["first"]}, timeout=30)
            assert rw.engine.generating.wait(10)
            body = b'{"texts": ["abandoned"]}'
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                b"POST /v1/rewrite HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            t0 = time.monotonic()
            while httpx.get(f"{base}/healthz").json()["queued"] != 1:
                assert time.monotonic() - t0 < 10
                time.sleep(0.01)
            sock.close()  # the client gives up
            while httpx.get(f"{base}/healthz").json()["queued"] != 0:
                assert time.monotonic() - t0 < 10, "the abandoned request stayed queued"
                time.sleep(0.01)
            rw.engine.gate.set()
            assert first.result(20).status_code == 200
        assert rw.calls == [["first"]]  # "abandoned" never reached the engine
        assert httpx.post(f"{base}/v1/rewrite", json={"texts": ["next"]}).status_code == 200
    finally:
        rw.engine.gate.set()
        server.should_exit = True
        thread.join(20)


def test_batcher_puts_small_jobs_beside_the_oldest_before_other_big_ones():
    """max_batch 4, queued behind a running batch: big A (3 texts), big B (3), small C (1).
    Arrival order alone would run [A], then [B, C]; C fits beside A, so it runs with A, and B,
    the oldest left, runs next: a short request waits at most one batch, and none starves."""
    gate, seen, run = gated_run()

    async def scenario():
        b = Batcher(run, max_batch=4, max_wait_ms=0)
        await b.start()
        running = asyncio.create_task(b.submit("k", ["r"]))
        while not seen:
            await asyncio.sleep(0.001)
        jobs = []
        for texts in (["a1", "a2", "a3"], ["b1", "b2", "b3"], ["c"]):
            jobs.append(asyncio.create_task(b.submit("k", texts)))
            await asyncio.sleep(0.005)
        gate.set()
        out = [await running] + [await j for j in jobs]
        await b.close()
        return out

    out = run_async(scenario())
    assert out == [["r"], ["a1", "a2", "a3"], ["b1", "b2", "b3"], ["c"]]  # every job its own results
    assert seen == [["r"], ["a1", "a2", "a3", "c"], ["b1", "b2", "b3"]]


def test_batcher_waits_after_a_batch_for_the_clients_it_answered():
    """Job a queued while batch r ran; b arrives 50 ms after r ended (a client r answered,
    coming back). The wait runs from the end of r, not from a's arrival, so a and b share the
    next call. Timed from arrival alone, a would start at once and b wait for a whole batch."""
    gate, seen, run = gated_run()

    async def scenario():
        b = Batcher(run, max_batch=64, max_wait_ms=300)
        await b.start()
        running = asyncio.create_task(b.submit("k", ["r"]))
        while not seen:
            await asyncio.sleep(0.001)
        a = asyncio.create_task(b.submit("k", ["a"]))
        await asyncio.sleep(0.4)  # a has waited longer than max_wait_ms when r ends
        gate.set()
        await running
        await asyncio.sleep(0.05)
        late = await b.submit("k", ["b"])
        out = (await a, late, b.engine_calls, b.texts_run)
        await b.close()
        return out

    assert run_async(scenario()) == (["a"], ["b"], 2, 3)
    assert seen == [["r"], ["a", "b"]]


def test_batcher_waits_while_clients_keep_coming_back_but_not_forever():
    """After batch r, clients come back 150 ms apart with max_wait 250 ms: all three share the
    next call, though the last comes 400 ms after r ended (a fixed wait from the batch's end would
    leave it for a call of its own). Arrivals that never stop end the wait at GATHER_SPREAD x
    max_wait (1 s here): the first batch of a steady stream holds some of it, not all."""
    gate, seen, run = gated_run()
    gate.set()

    async def scenario():
        b = Batcher(run, max_batch=64, max_wait_ms=250)
        await b.start()
        await b.submit("k", ["r"])
        jobs = []
        for name in ("a", "b", "c"):
            await asyncio.sleep(0.1 if name == "a" else 0.15)
            jobs.append(asyncio.create_task(b.submit("k", [name])))
        await asyncio.gather(*jobs)
        await asyncio.sleep(0.5)  # past any wait: the next arrival starts a fresh one
        stream = []
        for i in range(25):  # one every 100 ms for 2.5 s
            stream.append(asyncio.create_task(b.submit("k", [f"s{i}"])))
            await asyncio.sleep(0.1)
        await asyncio.gather(*stream)
        await b.close()

    run_async(scenario())
    assert seen[:2] == [["r"], ["a", "b", "c"]]
    first = seen[2]
    assert first[0] == "s0" and 5 <= len(first) <= 14, seen
    assert [t for batch in seen[2:] for t in batch] == [f"s{i}" for i in range(25)]


def test_two_batches_in_flight_overlap_and_one_does_not():
    """max_inflight 2: a batch forms and starts while the one before still runs (the engine
    thread of the first is blocked at the gate); with 1 it waits for the first to end."""

    def scenario(inflight):
        gate, seen, run = gated_run(lambda texts: [t.upper() for t in texts])

        async def go():
            b = Batcher(run, max_wait_ms=0, max_inflight=inflight)
            await b.start()
            first = asyncio.create_task(b.submit("k", ["a"]))
            while not seen:
                await asyncio.sleep(0.001)
            second = asyncio.create_task(b.submit("k", ["b", "c"]))
            await asyncio.sleep(0.2)
            during = (len(seen), b.running, b.queued)
            gate.set()
            out = (await first, await second)
            after = (b.running, b.engine_calls, b.texts_run)
            await b.close()
            return during, out, after

        return run_async(go())

    during, out, after = scenario(2)
    assert during == (2, 3, 0)  # both batches in the engine, nothing waiting
    assert out == (["A"], ["B", "C"]) and after == (0, 2, 3)
    during, out, after = scenario(1)
    assert during == (1, 1, 2)  # the second waits in the queue
    assert out == (["A"], ["B", "C"]) and after == (0, 2, 3)


def test_closing_cancels_the_batches_in_flight():
    gate, seen, run = gated_run()

    async def go():
        b = Batcher(run, max_wait_ms=0, max_inflight=2)
        await b.start()
        jobs = []
        for t in ("a", "b"):
            jobs.append(asyncio.create_task(b.submit("k", [t])))
            while len(seen) < len(jobs):
                await asyncio.sleep(0.001)
        await b.close()
        gate.set()
        return await asyncio.gather(*jobs, return_exceptions=True)

    assert all(isinstance(r, asyncio.CancelledError) for r in run_async(go()))


def test_the_app_gives_its_batcher_the_in_flight_setting_and_one_blas_thread_per_engine_thread():
    from textcycle.serve.app import create_app, one_blas_thread
    from textcycle.serve.settings import Settings

    batcher = create_app(Settings(max_inflight=2), load=lambda where: None).state.server.batcher
    assert batcher.max_inflight == 2 and batcher.executor._max_workers == 2
    assert batcher.executor._initializer is one_blas_thread
