"""Serve textcycle models over HTTP: a JSON API and a web page.

    python -m textcycle.serve                          # the bundled yelp model on 127.0.0.1:8000
    python -m textcycle.serve --model yelp zh ptt --port 8080
    python -m textcycle.serve --model mine=runs/yelp/best --workers 2
    curl -s localhost:8000/v1/rewrite -H 'content-type: application/json' \\
        -d '{"texts": ["the food was cold and the waiter was rude"]}'

Open http://127.0.0.1:8000/ for the page, /docs for the API. Requests that arrive together are
rewritten in one engine call (--max-batch texts, waiting at most --max-wait-ms); each cap
answers with a JSON error; SIGTERM (or Ctrl-C) finishes the requests in flight, then exits.
On loopback only the loopback host names are answered (--allowed-hosts).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import socket
import sys

from ..cli import entry_point, thread_count
from ..errors import TextcycleError
from ..model_folder import ModelFolder
from .settings import SETTINGS_ENV, Settings, settings_json

LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"
LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"]


def log_config(level: str) -> dict:
    """One plain format for uvicorn's lines and ours, on stderr (applied in every worker), with
    control characters escaped (a request path cannot forge a line or colour a terminal)."""
    handler = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"class": "textcycle.serve.logs.EscapingFormatter", "format": LOG_FORMAT}},
        "handlers": {"stderr": handler},
        "loggers": {
            name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
            for name in ("uvicorn", "textcycle")
        },
    }


def build_parser() -> argparse.ArgumentParser:
    d = Settings()
    p = argparse.ArgumentParser(
        prog="python -m textcycle.serve",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        nargs="+",
        default=d.models,
        metavar="MODEL",
        help="bundled names (yelp, zh), model or run folders, or NAME=FOLDER; the first is the "
        "default of requests without a model (default: yelp)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--allowed-hosts",
        default=None,
        metavar="NAMES",
        help="comma-separated Host header names answered, any port; * for any (default: "
        f"{','.join(LOOPBACK_NAMES)} when --host is a loopback address, else *); others get 400",
    )
    p.add_argument("--workers", type=int, default=1, help="worker processes, each loading every model (default 1)")
    p.add_argument(
        "--engine",
        default=d.engine,
        choices=("auto", "ct2", "torch"),
        help="auto (default): CTranslate2 where a model folder has a copy, else torch",
    )
    p.add_argument(
        "--threads",
        type=thread_count,
        default=None,
        help="CPU threads per worker (default: the machine's cores / workers; with --engine torch "
        "(cores - 1) / workers; at least 1)",
    )
    g = p.add_argument_group("batching")
    g.add_argument("--max-batch", type=int, default=d.max_batch, help=f"texts per engine call (default {d.max_batch})")
    g.add_argument(
        "--max-wait-ms",
        type=float,
        default=d.max_wait_ms,
        help=f"a batch waits for more requests until none has arrived for this long, counted from the "
        f"first one's arrival or the end of the last batch, whichever is later, and at most 4x this "
        f"in all (default {d.max_wait_ms:g})",
    )
    g.add_argument(
        "--batches-in-flight",
        type=int,
        default=d.max_inflight,
        help=f"batches the engine works on at once, each in its own thread: with 2, one batch's "
        f"Python side runs while CTranslate2 decodes the other (default {d.max_inflight})",
    )
    g.add_argument("--no-batching", action="store_true", help="one engine call per request (for comparison)")
    g = p.add_argument_group("limits (over one: a JSON error)")
    g.add_argument(
        "--max-body-bytes",
        type=int,
        default=d.max_body_bytes,
        help=f"request body size (default {d.max_body_bytes}: 413 above)",
    )
    g.add_argument("--max-texts", type=int, default=d.max_texts, help=f"texts per request (default {d.max_texts}: 422)")
    g.add_argument(
        "--max-chars", type=int, default=d.max_chars, help=f"characters per text (default {d.max_chars}: 422)"
    )
    g.add_argument(
        "--max-queue",
        type=int,
        default=d.max_queued,
        help=f"texts waiting per worker (default {d.max_queued}: 503 with Retry-After above)",
    )
    g.add_argument(
        "--max-batch-cost",
        type=int,
        default=d.max_batch_cost,
        help=f"engine work per batch, in tokens x candidates (1 + UTF-8 bytes // 4 of a text, times "
        f"max(rerank, beam)); a request over it runs in parts between others', a text over it "
        f"is refused (default {d.max_batch_cost}: 413)",
    )
    g.add_argument(
        "--max-request-cost",
        type=int,
        default=d.max_request_cost,
        help=f"engine work per request (default {d.max_request_cost}: 413)",
    )
    g.add_argument(
        "--max-queue-cost",
        type=int,
        default=d.max_queued_cost,
        help=f"engine work waiting per worker (default {d.max_queued_cost}: 503 with Retry-After above)",
    )
    g.add_argument("--retry-after", type=int, default=d.retry_after_s, help="Retry-After seconds of a 503 (default 1)")
    g.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a request's headers may take to arrive (default 10; then the connection is closed)",
    )
    g.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        help="seconds a request's body may take to arrive after its headers (default 30)",
    )
    g.add_argument(
        "--graceful-timeout",
        type=int,
        default=30,
        help="seconds SIGTERM waits for requests in flight; those still running then get a 503 (default 30)",
    )
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return p


def default_threads(engine: str, workers: int) -> int:
    """Every core for CTranslate2, whose threads each take a whole sub-batch (no intra-op
    spinning), so the HTTP side still gets a core between batches; torch leaves one core
    free: its intra-op threads on a busy core slow down many times over, not by half."""
    cores = os.cpu_count() or 1
    return max(1, (cores - (engine == "torch")) // workers)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(args) -> list[str]:
    if args.allowed_hosts is None:
        return list(LOOPBACK_NAMES) if is_loopback(args.host) else ["*"]
    names = [n.strip() for n in args.allowed_hosts.split(",") if n.strip()]
    if not names:
        raise TextcycleError("--allowed-hosts needs at least one host name (or *)")
    return names


def settings_from_args(args) -> Settings:
    for flag, value, low in (
        ("--port", args.port, 0),
        ("--workers", args.workers, 1),
        ("--max-batch", args.max_batch, 1),
        ("--batches-in-flight", args.batches_in_flight, 1),
        ("--max-body-bytes", args.max_body_bytes, 1),
        ("--max-texts", args.max_texts, 1),
        ("--max-chars", args.max_chars, 1),
        ("--max-queue", args.max_queue, 1),
        ("--max-batch-cost", args.max_batch_cost, 1),
        ("--max-request-cost", args.max_request_cost, 1),
        ("--max-queue-cost", args.max_queue_cost, 1),
        ("--retry-after", args.retry_after, 0),
        ("--graceful-timeout", args.graceful_timeout, 0),
    ):
        if value < low:
            raise TextcycleError(f"{flag} must be at least {low}, got {value}")
    if args.port > 65535:
        raise TextcycleError(f"--port must be at most 65535, got {args.port}")
    if not 0 <= args.max_wait_ms <= 10_000:
        raise TextcycleError(f"--max-wait-ms must be from 0 to 10000, got {args.max_wait_ms:g}")
    if args.max_request_cost > args.max_queue_cost:  # such a request could never be queued
        raise TextcycleError(
            f"--max-request-cost ({args.max_request_cost}) must be at most --max-queue-cost ({args.max_queue_cost})"
        )
    for flag, value in (("--header-timeout", args.header_timeout), ("--body-timeout", args.body_timeout)):
        if not 0 < value <= 3600:
            raise TextcycleError(f"{flag} must be over 0 and at most 3600 seconds, got {value:g}")
    for spec in args.model:
        name, sep, where = spec.partition("=")
        if sep and not (name.strip() and where.strip()):
            raise TextcycleError(f"--model {spec!r}: NAME=FOLDER needs both a name and a folder")
    threads = args.threads if args.threads is not None else default_threads(args.engine, args.workers)
    if threads < 1:
        raise TextcycleError(f"--threads must be at least 1, got {threads}")
    settings = Settings(
        models=list(args.model),
        engine=args.engine,
        threads=threads,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        batching=not args.no_batching,
        max_inflight=args.batches_in_flight,
        max_body_bytes=args.max_body_bytes,
        max_texts=args.max_texts,
        max_chars=args.max_chars,
        max_queued=args.max_queue,
        max_batch_cost=args.max_batch_cost,
        max_request_cost=args.max_request_cost,
        max_queued_cost=args.max_queue_cost,
        retry_after_s=args.retry_after,
        allowed_hosts=allowed_hosts(args),
        load_before_serving=args.workers > 1,
        hard_exit=True,
    )
    names = [name for name, _ in settings.model_names()]
    if len(set(names)) != len(names):
        raise TextcycleError(f"two models have the same name ({', '.join(names)}): name them with NAME=FOLDER")
    for _, where in settings.model_names():
        ModelFolder.open(where)  # a wrong folder fails here, before any worker starts
    return settings


def _exit_cleanly(signum, frame):
    raise SystemExit(0)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here as uvicorn would bind it, so that a busy port or a bad
    host is one line and exit status 2 (uvicorn logs several lines, then exits 3)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise TextcycleError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)  # the workers' processes listen on it too
    return sock


@entry_point
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    try:
        import uvicorn
        from uvicorn.supervisors import Multiprocess

        from .app import create_app
        from .protocol import ServeConfig
    except ImportError as e:
        raise TextcycleError(
            f"textcycle serve needs FastAPI and uvicorn ({e}): pip install 'textcycle[serve]'"
        ) from None

    sock = bind(args.host, args.port)
    # uvicorn stops gracefully on SIGTERM, then raises the signal again for the previous handler:
    # this one makes that a clean exit (status 0) instead of death by signal
    signal.signal(signal.SIGTERM, _exit_cleanly)
    common = dict(
        host=args.host,
        port=args.port,
        log_config=log_config(args.log_level),
        access_log=False,
        timeout_graceful_shutdown=args.graceful_timeout,
        server_header=False,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
    )
    if args.workers == 1:
        config = ServeConfig(create_app(settings), **common)
    else:  # each worker process builds its own app (and loads the models) from the settings
        os.environ[SETTINGS_ENV] = settings_json(settings)
        config = ServeConfig("textcycle.serve.app:app_from_env", factory=True, workers=args.workers, **common)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    logging.getLogger("textcycle.serve").info(
        "listening on http://%s:%d (Ctrl-C to stop)", shown, sock.getsockname()[1]
    )
    if args.workers == 1:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        return 0 if server.started else 1
    Multiprocess(config, sockets=[sock]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
