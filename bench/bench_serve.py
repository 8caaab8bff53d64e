"""Load test of `python -m textcycle.serve` on this machine (loopback only, bounded in time and count).

    python bench/bench_serve.py                       # 60 s per run, 4 server configurations
    python bench/bench_serve.py --configs on:1:1,on:1:2  # 1 against 2 batches in flight
    python bench/bench_serve.py --duration 15 --overload-duration 15 --out results/bench_serve.md

For each configuration (batching on / off x 1 / 2 workers) the script starts a server with the
bundled model on a free 127.0.0.1 port and runs two phases against it:

1. sustained: `--clients` (32) closed-loop clients, each sending its next request when the last
   one is answered, for `--duration` seconds; 1 request in `--big-every` (8) carries 32
   sentences, the others 1, drawn from the Li et al. Yelp test sentences. Reports requests/s, sentences/s, latency p50/p95/p99, errors.
2. overload: open-loop arrivals at `--overload` (4) x the requests/s the sustained phase
   reached, same mix, for `--overload-duration` seconds. The server must shed load (503 with
   Retry-After, counted separately from errors), keep answering /healthz (probed every 0.5 s:
   how many answered within 2 s, and the slowest), and recover: after the last arrival, the
   seconds until a 1-sentence request is answered in under 2x the sustained p50 (or 1 s).

Before the servers and after them, the engine alone is timed as `bench/bench_rewrite.py` does
(CTranslate2, batches of 512, the servers' default threads): the "of engine" column is the
server's sentences/s as a share of it (the mean of the two). "of rewriter" is the same share of
the whole rewrite the engine thread runs per batch (`serve/work.py`), timed without the server
on batches of `--rewriter-batch` (160) request sentences: what the server itself costs. "p99 ms, 1 sentence" is the p99 of
the 1-sentence requests alone. Server RSS (the whole process tree) is read when it is ready,
after `--warmup` (10) seconds of the sustained load, which are not counted (the first seconds
of load grow the allocators' pools to the batches' size: measured 189 -> 260 MiB in the first
10 s, then flat within 13 MiB over 140 s), after the sustained phase and at the end: each
phase's row gives its own start -> end, the sustained row also the RSS when ready. The
servers run with `--max-queue` (512 texts, about 2-3 s of work here) so that shedding starts before the
latency of accepted requests grows past a few seconds. Prints a Markdown table (and writes it to
`--out`). The load generator shares the CPU with the server, as a real client on the same box would;
the last column says how many cores each used on average in the sustained phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))  # bench_rewrite: the engine-alone timing and its sentences
HOST = "127.0.0.1"  # loopback only

SENTENCES = [
    "the food was cold and the waiter was rude .",
    "this is the best pizza in town !",
    "the service was terrible and slow .",
    "i love this place , the staff is so friendly .",
    "the room was dirty and smelled bad .",
    "great coffee and a cozy atmosphere .",
    "we waited an hour and nobody cared .",
    "the burger was juicy and cheap .",
    "very disappointed with this place .",
    "highly recommend the tacos here !",
    "the manager was unhelpful and rude .",
    "everything we ordered was delicious .",
    "the fries were soggy and bland .",
    "the staff went above and beyond for us .",
    "i will never come back here .",
    "our server was attentive and sweet .",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children."""
    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
        return sum(sum(x.cpu_times()[:2]) for x in procs if x.is_running())
    except psutil.Error:
        return float("nan")


def tree_rss_mib(pid: int) -> float:
    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
        return sum(x.memory_info().rss for x in procs if x.is_running()) / 2**20
    except psutil.Error:
        return float("nan")


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    offered: float | None = None  # open loop: arrivals per second
    latencies: list[float] = field(default_factory=list)  # seconds, 200s only
    latencies_1: list[float] = field(default_factory=list)  # the same, 1-sentence requests only
    sentences: int = 0
    ok: int = 0
    shed: int = 0  # 503
    errors: int = 0  # anything else, timeouts and connection errors included
    skipped: int = 0  # overload arrivals not sent: the client already had --max-in-flight open
    health_ok: int = 0
    health_total: int = 0
    health_max: float = 0.0
    recovered_s: float | None = None
    cpu_server: float = float("nan")  # CPU cores in use on average (CPU seconds / wall seconds)
    cpu_client: float = float("nan")  # the load generator's (this process)
    mean_batch: float = float("nan")  # texts per engine call in the phase (the worker /healthz reached)


class Server:
    def __init__(self, args, batching: bool, workers: int, inflight: int, log_dir: Path):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "textcycle.serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--model",
            args.model,
            "--engine",
            args.engine,
            "--workers",
            str(workers),
            "--max-queue",
            str(args.max_queue),
            "--max-wait-ms",
            str(args.max_wait_ms),
            "--log-level",
            os.environ.get("BENCH_SERVE_LOG", "warning"),
        ]
        cmd += ["--batches-in-flight", str(inflight)]
        if not batching:
            cmd.append("--no-batching")
        if args.max_batch:
            cmd += ["--max-batch", str(args.max_batch)]
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"serve-{'b' if batching else 'nb'}-{workers}w-{inflight}f.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, workers: int, timeout: float = 300) -> None:
        """Until every worker has answered ready (fresh connections reach different workers)."""
        t0, pids = time.monotonic(), set()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited: {self.log_path.read_text()[-2000:]}")
            try:
                r = httpx.get(f"{self.url}/healthz?ready=true", timeout=2)
                if r.status_code == 200:
                    pids.add(r.json()["pid"])
                    if len(pids) >= workers:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.1 if pids else 0.5)
        raise SystemExit(f"only {len(pids)} of {workers} workers got ready")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log.close()
        return code


class Connection:
    """A minimal HTTP/1.1 client connection (keep-alive) on asyncio streams: far lighter than a
    general client, so that the load generator, which shares the CPU, measures the server."""

    def __init__(self, port: int):
        self.port, self.streams = port, None

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None

    async def post(self, path: str, payload: dict, timeout: float = 60.0) -> tuple[int, bytes]:
        data = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        for attempt in (0, 1):  # once more on a fresh connection if the idle one was closed
            fresh = self.streams is None
            if fresh:
                self.streams = await asyncio.wait_for(asyncio.open_connection(HOST, self.port), timeout)
            reader, writer = self.streams
            try:
                writer.write(head + data)
                await writer.drain()
                raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
                status = int(raw.split(b" ", 2)[1])
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", raw)
                body = await asyncio.wait_for(reader.readexactly(int(length.group(1)) if length else 0), timeout)
                if re.search(rb"(?i)\r\nconnection: *close", raw):
                    self.close()
                return status, body
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                self.close()
                if fresh or attempt:
                    raise
            except asyncio.TimeoutError:
                self.close()
                raise
        raise OSError("unreachable")


def body(rng: random.Random, args) -> dict:
    n = 32 if rng.randrange(args.big_every) == 0 else 1
    return {"texts": [rng.choice(args.texts) for _ in range(n)]}


async def send(conn: Connection, payload: dict, phase: Phase) -> None:
    t0 = time.perf_counter()
    try:
        status, _ = await conn.post("/v1/rewrite", payload)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
        phase.errors += 1
        return
    if status == 200:
        phase.ok += 1
        phase.sentences += len(payload["texts"])
        phase.latencies.append(time.perf_counter() - t0)
        if len(payload["texts"]) == 1:
            phase.latencies_1.append(phase.latencies[-1])
    elif status == 503:
        phase.shed += 1
    else:
        phase.errors += 1


def _probe_loop(url: str, stop, out) -> None:
    """In its own process (so the load generator's busy event loop cannot delay it): GET
    /healthz every 0.5 s until `stop` is set; sends (answered within 2 s, total, slowest s)."""
    ok = total = 0
    slowest = 0.0
    with httpx.Client() as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            total += 1
            try:
                ok += client.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                pass
            slowest = max(slowest, time.perf_counter() - t0)
            stop.wait(0.5)
    out.send((ok, total, slowest))


class HealthProbe:
    def __init__(self, url: str):
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        self.recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_probe_loop, args=(url, self.stop, send), daemon=True)
        self.proc.start()

    def finish(self, phase: "Phase") -> None:
        self.stop.set()
        if self.recv.poll(10):
            phase.health_ok, phase.health_total, phase.health_max = self.recv.recv()
        self.proc.join(10)


async def sustained(
    port: int, url: str, args, seed: int, duration: float | None = None, server_pid: int | None = None
) -> Phase:
    phase = Phase("sustained")
    stop = asyncio.Event()
    sent = 0

    async def client_loop(k: int):
        nonlocal sent
        rng, conn = random.Random(seed * 1000 + k), Connection(port)
        while not stop.is_set() and sent < args.max_requests:
            sent += 1
            await send(conn, body(rng, args), phase)
        conn.close()

    h0 = httpx.get(f"{url}/healthz", timeout=10).json()
    prober = HealthProbe(url)
    t0, c0 = time.perf_counter(), time.process_time()
    s0 = tree_cpu_s(server_pid) if server_pid else float("nan")
    tasks = [asyncio.create_task(client_loop(k)) for k in range(args.clients)]
    await asyncio.sleep(args.duration if duration is None else duration)
    stop.set()
    await asyncio.gather(*tasks)
    phase.seconds = time.perf_counter() - t0
    phase.cpu_client = (time.process_time() - c0) / phase.seconds
    if server_pid:
        phase.cpu_server = (tree_cpu_s(server_pid) - s0) / phase.seconds
    h1 = httpx.get(f"{url}/healthz", timeout=10).json()
    if h1["pid"] == h0["pid"] and h1["batches"] > h0["batches"]:
        phase.mean_batch = (h1["batched_texts"] - h0["batched_texts"]) / (h1["batches"] - h0["batches"])
    prober.finish(phase)
    return phase


async def overload(port: int, url: str, args, rate: float, p50: float, seed: int) -> Phase:
    """Open loop: a request every 1/rate s whatever the answers, each on its own connection
    (at most --max-in-flight open; an arrival beyond that is counted as skipped)."""
    phase = Phase("overload", offered=rate)
    rng = random.Random(seed)
    prober = HealthProbe(url)
    in_flight: set[asyncio.Task] = set()

    async def one(payload):
        conn = Connection(port)
        try:
            await send(conn, payload, phase)
        finally:
            conn.close()

    t0 = time.perf_counter()
    n = 0
    while (now := time.perf_counter() - t0) < args.overload_duration and n < args.max_requests:
        due = n / rate
        if due > now:
            await asyncio.sleep(due - now)
        n += 1
        if len(in_flight) >= args.max_in_flight:
            phase.skipped += 1
            continue
        task = asyncio.create_task(one(body(rng, args)))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)

    async def recovery():
        """How soon after the last arrival a lone short request is fast again."""
        t_end, target, probe = time.perf_counter(), max(2 * p50, 1.0), Connection(port)
        while time.perf_counter() - t_end < 120:
            t1 = time.perf_counter()
            try:
                status, _ = await probe.post("/v1/rewrite", {"texts": [SENTENCES[0]]}, timeout=30)
                if status == 200 and time.perf_counter() - t1 < target:
                    phase.recovered_s = time.perf_counter() - t_end
                    break
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                pass
            await asyncio.sleep(0.1)
        probe.close()

    recovering = asyncio.create_task(recovery())
    await asyncio.gather(*in_flight)
    phase.seconds = time.perf_counter() - t0  # until the last answer, as in the sustained phase
    await recovering
    prober.finish(phase)
    return phase


def row(
    engine: str,
    batching: bool,
    workers: int,
    inflight: int,
    ph: Phase,
    rss: tuple[float, float] | None,
    exit_code: int | None,
    engine_rate: float,
    rewriter_rate: float,
) -> str:
    lat = [x * 1000 for x in ph.latencies]
    lat_1 = [x * 1000 for x in ph.latencies_1]
    offered = f"{ph.offered:.1f}" if ph.offered else "closed loop"
    health = f"{ph.health_ok}/{ph.health_total}, max {ph.health_max * 1000:.0f} ms"
    recovered = f"{ph.recovered_s:.1f} s" if ph.recovered_s is not None else ("-" if ph.offered is None else "no")
    rss_text = f"{rss[0]:.0f} -> {rss[1]:.0f}" if rss else ""
    if rss and len(rss) > 2:
        rss_text += f" (ready: {rss[2]:.0f})"
    exit_text = "" if exit_code is None else str(exit_code)
    cpu = "" if ph.cpu_client != ph.cpu_client else f"{ph.cpu_server:.2f} / {ph.cpu_client:.2f}"
    batch = "" if ph.mean_batch != ph.mean_batch else f"{ph.mean_batch:.0f}"
    return (
        f"| {engine} | {'on' if batching else 'off'} | {workers} | {inflight} | {ph.name} | {offered} | {ph.ok / ph.seconds:.1f} | "
        f"{ph.sentences / ph.seconds:.1f} | {100 * ph.sentences / ph.seconds / engine_rate:.0f}% | "
        f"{100 * ph.sentences / ph.seconds / rewriter_rate:.0f}% | "
        f"{pct(lat, 50):.0f} | {pct(lat, 95):.0f} | {pct(lat, 99):.0f} | {pct(lat_1, 99):.0f} | "
        f"{ph.errors} | {ph.shed} | {ph.skipped if ph.offered else '-'} | {health} | {recovered} | {rss_text} | "
        f"{exit_text} | {cpu} | {batch} |"
    )


HEADER = (
    "| engine | batching | workers | batches in flight | phase | offered req/s | req/s (200) | sentences/s | of engine | of rewriter | p50 ms | "
    "p95 ms | p99 ms | p99 ms, 1 sentence | errors | 503 shed | not sent | /healthz ok, slowest | recovered | "
    "RSS MiB start -> end | exit | CPU cores: server / load generator | mean batch |\n"
    "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
)


def engine_rate(model: str, threads: int, seconds: float = 10.0) -> float:
    """The engine's batched throughput, as `bench/bench_rewrite.py` measures it (CTranslate2
    float32, greedy into positive, batches of 512 Li test sentences), with the servers' threads:
    what the server's sentences/s is a share of."""
    from bench_rewrite import rate, sentences

    from textcycle.engines.ct2 import CT2Engine
    from textcycle.model_folder import ModelFolder
    from textcycle.text.textnorm import normalize

    engine = CT2Engine.from_folder(ModelFolder.open(model), threads=threads)
    ids = engine.encode([normalize(t, "en") for t in sentences(REPO.parent / "shared" / "data" / "yelp", 4096)])
    value, _ = rate(lambda b: engine.generate_ids(b, 1), ids, 512, seconds)
    return value


def rewriter_rate(model: str, threads: int, texts: list[str], batch: int, seconds: float = 10.0) -> float:
    """What one server batch costs without the server: `serve.work.rewrite_batch` (the whole
    rewrite as the engine thread runs it: normalising, detecting the style, CTranslate2 both
    ways, the discriminator on the rewrites, decoding) on batches of `batch` request sentences,
    auto direction, numpy's BLAS on one thread as in the server."""
    import random as _random

    from textcycle.rewrite import Rewriter
    from textcycle.serve.app import one_blas_thread
    from textcycle.serve.work import rewrite_batch

    one_blas_thread()
    rw = Rewriter.from_pretrained(model, engine="ct2", threads=threads)
    rng = _random.Random(0)
    batches = [[rng.choice(texts) for _ in range(batch)] for _ in range(8)]
    rewrite_batch(rw, batches[0], None)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for b in batches:
            rewrite_batch(rw, b, None)
            n += len(b)
    value = n / (time.perf_counter() - t0)
    del rw
    return value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds of the sustained phase (default 60)")
    p.add_argument("--overload-duration", type=float, default=30.0, help="seconds of the overload phase (default 30)")
    p.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="seconds of the sustained load before it is measured (default 10; RSS start is read after it)",
    )
    p.add_argument("--clients", type=int, default=32, help="closed-loop clients (default 32)")
    p.add_argument("--big-every", type=int, default=8, help="1 request in N has 32 sentences (default 8)")
    p.add_argument("--overload", type=float, default=4.0, help="overload factor over the sustained req/s (default 4)")
    p.add_argument("--max-requests", type=int, default=200_000, help="bound on requests per phase")
    p.add_argument("--max-in-flight", type=int, default=512, help="the overload client's bound on open requests")
    p.add_argument("--max-queue", type=int, default=512, help="the servers' --max-queue (default 512 texts)")
    p.add_argument("--max-wait-ms", type=float, default=10.0, help="the servers' --max-wait-ms (default 10)")
    p.add_argument("--max-batch", type=int, default=None, help="the servers' --max-batch (default: theirs)")
    p.add_argument("--model", default="yelp-small")
    p.add_argument(
        "--rewriter-batch",
        type=int,
        default=160,
        help="batch size of the rewriter-alone timing ('of rewriter'; default 160, about the "
        "servers' mean batch under the sustained load)",
    )
    p.add_argument("--engine", default="auto", choices=("auto", "ct2", "torch"), help="the servers' --engine")
    p.add_argument(
        "--configs",
        default="on:1,off:1,on:2,off:2",
        help="batching:workers[:batches in flight] (default on:1,off:1,on:2,off:2; in flight: the servers' default)",
    )
    p.add_argument("--out", type=Path, help="also write the table here")
    p.add_argument("--log-dir", type=Path, default=Path("/tmp"), help="server logs (default /tmp)")
    args = p.parse_args(argv)
    if not (0 < args.duration <= 600 and 0 < args.overload_duration <= 600 and 1 <= args.clients <= 256):
        raise SystemExit("durations must be in (0, 600] s and clients in 1..256")
    configs = []
    for spec in args.configs.split(","):
        on, *rest = spec.split(":")
        if on not in ("on", "off") or not 1 <= len(rest) <= 2 or not all(x.isdigit() and int(x) >= 1 for x in rest):
            raise SystemExit(f"--configs: {spec!r} is not batching:workers[:in flight], e.g. on:1 or on:1:2")
        configs.append((on, *map(int, rest)))

    from bench_rewrite import sentences

    from textcycle.serve.__main__ import default_threads
    from textcycle.serve.settings import Settings

    # the requests carry the sentences the engine alone is timed on (Li test; without the shared
    # data, generic review sentences), so "of engine" compares like with like
    args.texts = sorted(set(sentences(REPO.parent / "shared" / "data" / "yelp", 1000)))

    threads = default_threads(args.engine, 1)
    before = engine_rate(args.model, threads)
    print(f"-- engine alone ({threads} threads, batches of 512): {before:.1f} sentences/s", file=sys.stderr, flush=True)
    rw_before = rewriter_rate(args.model, threads, args.texts, args.rewriter_batch)
    print(
        f"-- rewriter alone (batches of {args.rewriter_batch}): {rw_before:.1f} sentences/s",
        file=sys.stderr,
        flush=True,
    )
    lines, rows = [HEADER], []
    for k, (on, workers, *inflight) in enumerate(configs):
        batching = on == "on"
        inflight = inflight[0] if inflight else Settings().max_inflight
        print(
            f"-- batching {on}, {workers} worker(s), {inflight} batch(es) in flight: starting",
            file=sys.stderr,
            flush=True,
        )
        server = Server(args, batching, workers, inflight, args.log_dir)
        try:
            server.wait_ready(workers)
            for _ in range(3):  # warm every worker a little
                httpx.post(f"{server.url}/v1/rewrite", json={"texts": SENTENCES[:4]}, timeout=60)
            engine = httpx.get(f"{server.url}/v1/models").json()["models"][0]["engine"]
            rss_ready = tree_rss_mib(server.proc.pid)
            if args.warmup > 0:  # the same load, not counted: the allocators reach their working size
                asyncio.run(sustained(server.port, server.url, args, seed=50 + k, duration=args.warmup))
            rss_start = tree_rss_mib(server.proc.pid)
            base = asyncio.run(sustained(server.port, server.url, args, seed=k, server_pid=server.proc.pid))
            p50 = pct(base.latencies, 50)
            rate = args.overload * base.ok / base.seconds
            print(
                f"   sustained {base.ok / base.seconds:.1f} req/s; overload at {rate:.1f} req/s",
                file=sys.stderr,
                flush=True,
            )
            rss_mid = tree_rss_mib(server.proc.pid)  # the sustained phase alone: start -> mid
            over = asyncio.run(overload(server.port, server.url, args, rate, p50, seed=100 + k))
            rss_end = tree_rss_mib(server.proc.pid)
        finally:
            code = server.stop()
        rows.append((engine, batching, workers, inflight, base, (rss_start, rss_mid, rss_ready), None))
        rows.append((engine, batching, workers, inflight, over, (rss_mid, rss_end), code))
        print("\n".join(row(*r, before, rw_before) for r in rows[-2:]), file=sys.stderr, flush=True)
    after = engine_rate(args.model, threads)
    rw_after = rewriter_rate(args.model, threads, args.texts, args.rewriter_batch)
    ref, rw_ref = (before + after) / 2, (rw_before + rw_after) / 2
    table = "\n".join(lines + [row(*r, ref, rw_ref) for r in rows])
    note = (
        f"\n\n'of engine': sentences/s as a share of the engine alone ({threads} threads, CTranslate2 "
        f"batches of 512, as bench/bench_rewrite.py), {before:.1f} before the servers and {after:.1f} after, "
        f"mean {ref:.1f}. 'of rewriter': the same against the whole rewrite the engine thread runs per batch "
        f"(serve/work.py `rewrite_batch`: normalising, style detection, CTranslate2 both ways, the "
        f"discriminator on the rewrites, decoding) on batches of {args.rewriter_batch} request sentences "
        f"without the server, {rw_before:.1f} before and {rw_after:.1f} after, mean {rw_ref:.1f}. "
        f"{os.cpu_count()} CPU cores, shared by server and load generator; model {args.model}; "
        f"{args.clients} clients, 1 request in {args.big_every} with 32 sentences; sustained {args.duration:g} s, "
        f"overload {args.overload:g}x for {args.overload_duration:g} s, after {args.warmup:g} s of warm-up load "
        f"(RSS 'ready' is before it); --max-queue {args.max_queue}, "
        f"--max-wait-ms {args.max_wait_ms:g}"
        + (f", --max-batch {args.max_batch}." if args.max_batch else ".")
        + " 'CPU cores': CPU seconds per second of the sustained phase, the server's process tree / the load "
        "generator's process. 'mean batch': texts per engine call in it (of the worker /healthz reached)."
    )
    print(table + note)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table + note + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
