"""The FastAPI app: routes, limits, JSON errors, access log, model loading, the web page.

    app = create_app(Settings(models=["yelp", "zh"]))          # what `python -m textcycle.serve` runs
    app = create_app(Settings(), load=lambda name: rewriter)   # tests: any Rewriter-like object

Requests pass, outermost first: `Guard` (pure ASGI: the Host header checked against
`--allowed-hosts`; HEAD answered as GET without the body; one access-log line per request and
one error line per error response, control characters escaped; JSON bodies of /v1/ POSTs read
here with the size cap, the content type and UTF-8 checked; a request still running when
shutdown's grace time runs out becomes a JSON 503; any unexpected exception becomes a JSON 500,
never a traceback to the client), then FastAPI's validation against `schemas`, then the route.
The route checks the request against the caps (texts, characters, and the engine work it
makes: `work.text_cost`) and the model, and queues its texts in the `Batcher`; its engine
thread (one per worker, or `--batches-in-flight` of them) loads the models at startup and then
runs the batches. /healthz answers from the first moment; /v1/ answers 503 until the models are
loaded. A model that fails to load is left out (503 for requests naming it); the others serve.

This file is over 400 lines: every route, limit and error response of the API is here, so that
one file shows all that a client can reach and how each refusal looks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..decoding import check_decoding
from ..errors import TextcycleError
from .batching import Batcher, QueueFull
from .logs import printable
from .schemas import Error, Health, ModelsResponse, RewriteRequest, RewriteResponse
from .settings import SETTINGS_ENV, Settings
from .work import rewrite_batch, text_cost

log = logging.getLogger("textcycle.serve")
STATIC = Path(__file__).parent / "static"
PAGE_CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
WARM_UP = {"en": "the food was good .", "zh": "服务很好"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


_FOLDERS = re.compile(r"(?:[\w.~+-]*[\\/])+")  # the folders of a path: "/home/me/run/", "runs/"


def short_reason(message: str) -> str:
    """A loader error for clients: its first line, each path cut to its last part (the server's
    folders are none of a client's business; the log has the whole message)."""
    lines = message.strip().splitlines() or ["unknown error"]
    out = _FOLDERS.sub("", lines[0])
    return out if len(out) <= 200 else out[:199] + "…"


def host_name(host: str) -> str:
    """A Host header or an --allowed-hosts entry without its port: "[::1]:8000" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, _, port = host.rpartition(":")
    return (name if name and port.isdigit() and ":" not in name else host).rstrip(".")


def one_blas_thread() -> None:
    """numpy's BLAS (the discriminator's matrix products) on one thread. Its threads spin-wait
    for each other, so on cores shared with CTranslate2, the event loop and clients they lose
    most of their time: measured under load, 1.6x the sentences/s of the default."""
    import numpy  # noqa: F401 - threadpoolctl limits only the BLAS libraries already loaded
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


# ---------------------------------------------------------------- the worker's state


class Server:
    """One worker's models, batcher and loading status."""

    def __init__(self, settings: Settings, load: Callable[[str], object] | None = None):
        self.settings = settings
        self.names = settings.model_names()
        self.load = load or self._load_pretrained
        self.rewriters: dict[str, object] = {}
        self.failed: dict[str, str] = {}  # model name -> why it did not load (short, for clients)
        self.status, self.error = "loading", None
        self.batcher = Batcher(
            self._run,
            max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms,
            max_queued=settings.max_queued,
            batching=settings.batching,
            max_inflight=settings.max_inflight,
            max_batch_cost=settings.max_batch_cost,
            max_queued_cost=settings.max_queued_cost,
            thread_init=one_blas_thread,
        )

    def _load_pretrained(self, where: str):
        from ..model_folder import ModelFolder
        from ..rewriter import Rewriter

        folder = ModelFolder.open(where)
        return Rewriter.from_pretrained(
            folder, engine=self.settings.engine, threads=self.settings.threads, warn=lambda m: log.info("%s", m)
        )

    def load_all(self) -> None:
        """In the engine thread, before any batch: load every model once and warm it up. A
        model that fails is left out (its whole error in the log, a short reason for clients);
        the others serve."""
        t0 = time.monotonic()
        for name, where in self.names:
            try:
                rw = self.load(where)
                rw.rewrite([WARM_UP.get(rw.language, "ok")])
            except Exception as e:  # noqa: BLE001 - reported by /healthz and the requests for it
                error = str(e) if isinstance(e, TextcycleError) else f"{type(e).__name__}: {e}"
                self.failed[name] = short_reason(error)
                log.error("model %s (%s) failed to load: %s", name, where, error)
                continue
            if hasattr(rw, "warn"):
                rw.warn = lambda m: log.debug("%s", m)  # per-input notes are in the answers
            self.rewriters[name] = rw
            log.info("model %s loaded (%s, %s engine)", name, where, rw.engine_name)
        if not self.rewriters:
            self.status = "failed"
            self.error = "; ".join(f"model {n} failed to load: {why}" for n, why in self.failed.items())
            return
        self.status = "ready"
        log.info(
            "ready in %.1f s (pid %d)%s",
            time.monotonic() - t0,
            os.getpid(),
            f"; not serving {', '.join(self.failed)}" if self.failed else "",
        )

    def _run(self, key, texts: list[str]) -> list[dict]:
        name, to, beam, rerank = key
        t0 = time.perf_counter()
        out = rewrite_batch(self.rewriters[name], texts, to, beam, rerank)
        log.debug("batch: %d texts for %s in %.0f ms", len(texts), key, (time.perf_counter() - t0) * 1000)
        return out

    def require_ready(self) -> None:
        if self.status == "loading":
            raise ApiError(503, "the models are still loading; try again shortly", {"Retry-After": "2"})
        if self.status == "failed":
            raise ApiError(503, f"no model loaded: {self.error}")

    def health(self) -> dict:
        h = {
            "status": self.status,
            "ready": self.status == "ready",
            "models": list(self.rewriters),
            "queued": self.batcher.queued,
            "queued_cost": self.batcher.queued_cost,
            "batches": self.batcher.engine_calls,
            "batched_texts": self.batcher.texts_run,
            "pid": os.getpid(),
        }
        if self.failed:
            h["failed"] = dict(self.failed)
        if self.error:
            h["error"] = self.error
        return h


# ---------------------------------------------------------------- outermost middleware


class Guard:
    """Pure ASGI: the Host check, HEAD as GET, body checks for /v1/ POSTs, an access line per
    request, an error line per error response, a JSON 503 for a request cut off by shutdown,
    and a JSON 500 for anything unexpected."""

    def __init__(self, app, settings: Settings):
        self.app, self.settings = app, settings
        self.hosts = None if "*" in settings.allowed_hosts else {host_name(h) for h in settings.allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        seen = {"status": 0, "error": b""}
        head = scope["method"] == "HEAD"  # answered as GET, without the body

        async def send_logged(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                if seen["status"] >= 400 and len(seen["error"]) < 4096:
                    seen["error"] += message.get("body", b"")
                if head:
                    message = {**message, "body": b""}
            await send(message)

        try:
            refused = self._check_host(scope)
            if refused is not None:
                await refused(scope, receive, send_logged)
                return
            if scope["method"] == "POST" and scope["path"].startswith("/v1/"):
                checked = await self._read_body(scope, receive)
                if isinstance(checked, Response):
                    await checked(scope, receive, send_logged)
                    return
                receive = checked
            await self.app(dict(scope, method="GET") if head else scope, receive, send_logged)
        except asyncio.CancelledError:
            # uvicorn cancels the requests still running when --graceful-timeout runs out: the
            # client gets a JSON 503, and the cancellation ends here (no traceback in the log)
            if not seen["status"]:
                await error_response(
                    503,
                    "the server is shutting down; try again shortly",
                    {"Retry-After": str(self.settings.retry_after_s)},
                )(scope, receive, send_logged)
        except Exception as e:  # noqa: BLE001 - a bug must not reach the client as a traceback
            log.debug("unhandled error", exc_info=True)
            seen["error"] = f"unhandled {type(e).__name__}: {e}".encode()
            if not seen["status"]:
                await error_response(500, "internal server error")(scope, receive, send_logged)
                seen["status"] = 500
        finally:
            self._log(scope, seen, time.perf_counter() - t0)

    def _check_host(self, scope) -> Response | None:
        """A 400 for a Host header not in --allowed-hosts (a page on another site that points its
        own name at this address, DNS rebinding, must not reach a server on loopback)."""
        if self.hosts is None:
            return None
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"), None)
        if host is None:
            return error_response(400, "the request has no Host header")
        if host_name(host) not in self.hosts:
            return error_response(400, f"this server does not answer for the host {host[:100]!r}")
        return None

    async def _read_body(self, scope, receive):
        """The whole body within the cap, as a replaying `receive`; or the error response."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cap = self.settings.max_body_bytes
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            sent = f"not {ctype[:100]}" if ctype else "this request has no Content-Type"
            return error_response(415, f"send the body as JSON (Content-Type: application/json); {sent}")
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            return error_response(413, f"the request body is {int(length)} bytes; this server takes at most {cap}")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return Response(status_code=499)  # the client left while sending: nothing to do
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                return error_response(413, f"the request body is over {cap} bytes, the most this server takes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            return error_response(400, f"the request body is not valid UTF-8 (byte {e.start})")
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: waits for the client to disconnect

        return replay

    @staticmethod
    def _log(scope, seen, seconds: float) -> None:
        client = scope.get("client")
        who = f"{client[0]}:{client[1]}" if client else "-"
        path = printable(
            scope["path"] + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
        )
        status = seen["status"]
        log.info('%s "%s %s" %d %.1f ms', who, scope["method"], path, status, seconds * 1000)
        if status == 499 or (scope["path"] == "/healthz" and status == 503):
            return  # a client that left; a readiness probe before the models are loaded: no errors
        if status >= 400 or seen["error"].startswith(b"unhandled"):
            try:
                message = json.loads(seen["error"])["error"]
            except (ValueError, KeyError, TypeError):
                message = seen["error"].decode("utf-8", "replace")[:300] or "-"
            log.warning("error %d %s %s: %s", status, scope["method"], printable(scope["path"]), printable(message))


# ---------------------------------------------------------------- validation messages


def _where(loc) -> str:
    parts = [p for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validation_message(errors: list[dict]) -> tuple[int, str]:
    first = errors[0]
    if first.get("type") == "json_invalid":
        pos = first["loc"][-1] if len(first.get("loc", ())) > 1 else "?"
        return 400, f"malformed JSON (at character {pos}): {first.get('ctx', {}).get('error', first['msg'])}"
    where = _where(first.get("loc", ()))
    msg = first.get("msg", "invalid")
    if where.startswith("to."):  # a union: one error per allowed type; say it once
        where, msg = "to", "must be a style name, 0, 1 or null"
        errors = [e for e in errors if not _where(e.get("loc", ())).startswith("to.")] + [first]
    text = f"{where or 'request body'}: {msg}"
    if first.get("type") == "extra_forbidden":
        text = f"unknown field {where!r} (the fields are: texts, model, to, rerank, beam)"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return 422, text


# ---------------------------------------------------------------- the app

ERROR_RESPONSES = {
    s: {"model": Error, "description": d}
    for s, d in {
        400: "Malformed JSON, a body that is not UTF-8, a Host not served",
        413: "Body or engine work over a cap",
        415: "Body not sent as JSON",
        422: "Wrong fields or types, unknown model or style, over a cap",
        503: "Queue full, models still loading (see Retry-After), the model failed to load, shutting down",
    }.items()
}


def create_app(settings: Settings | None = None, load: Callable[[str], object] | None = None) -> FastAPI:
    settings = settings or Settings()
    server = Server(settings, load)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await server.batcher.start()
        # the models load in the engine thread, so they are there before its first batch
        loading = asyncio.get_running_loop().run_in_executor(server.batcher.executor, server.load_all)
        if settings.load_before_serving:
            await loading  # this worker accepts no connection before its models are loaded
        # else the event loop already answers /healthz with "loading" meanwhile
        yield
        await server.batcher.close()
        if settings.hard_exit and server.batcher.busy:
            # an engine call outlived --graceful-timeout; it cannot be interrupted, and Python
            # would wait for its thread at exit (a batch's worth of seconds, or more)
            log.warning("exiting with a batch still running in the engine (past --graceful-timeout)")
            logging.shutdown()
            os._exit(0)

    app = FastAPI(
        title="textcycle",
        version="1",
        lifespan=lifespan,
        description=(
            "Unpaired text style transfer: rewrite sentences into the other style (e.g. negative <-> positive "
            "reviews). Requests that arrive together are rewritten in one engine call. Every error is JSON "
            '`{"error": "..."}`. The web page is at `/`.'
        ),
    )
    app.state.server = server

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc: RequestValidationError):
        return error_response(*validation_message(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.get(
        "/healthz",
        response_model=Health,
        response_model_exclude_none=True,
        tags=["health"],
        responses={503: {"model": Health, "description": "With ready=true: not ready yet"}},
    )
    async def healthz(ready: bool = False):
        """Liveness: 200 whenever the worker answers, with `status` loading / ready / failed.
        `?ready=true`: readiness, 503 until the models are loaded."""
        h = server.health()
        return JSONResponse(h, status_code=503) if ready and not h["ready"] else h

    @app.get("/v1/models", response_model=ModelsResponse, tags=["rewrite"], responses={503: ERROR_RESPONSES[503]})
    async def models():
        """The models this server rewrites with: style names, language, engine; and the caps."""
        server.require_ready()
        default = server.names[0][0]
        return {
            "models": [
                {
                    "name": n,
                    "style_names": list(rw.style_names),
                    "language": rw.language,
                    "engine": rw.engine_name,
                    "default": n == default,
                }
                for n, rw in server.rewriters.items()
            ],
            "limits": {
                "max_texts": settings.max_texts,
                "max_chars": settings.max_chars,
                "max_body_bytes": settings.max_body_bytes,
                "max_queued": settings.max_queued,
                "max_text_cost": settings.max_batch_cost,
                "max_request_cost": settings.max_request_cost,
                "max_queued_cost": settings.max_queued_cost,
            },
        }

    @app.post(
        "/v1/rewrite",
        response_model=RewriteResponse,
        response_model_exclude_unset=True,
        tags=["rewrite"],
        responses=ERROR_RESPONSES,
    )
    async def rewrite(body: RewriteRequest, request: Request):
        """Rewrite each text into the target style (or the opposite of the detected one)."""
        server.require_ready()
        name = body.model or server.names[0][0]
        if name in server.failed:
            raise ApiError(503, f"model {name} failed to load: {server.failed[name]}")
        rw = server.rewriters.get(name)
        if rw is None:
            raise ApiError(422, f"unknown model {name!r}: this server has {', '.join(server.rewriters)}")
        texts = body.texts
        if len(texts) > settings.max_texts:
            raise ApiError(
                422, f"too many texts: {len(texts)}; this server takes at most {settings.max_texts} per request"
            )
        for i, t in enumerate(texts):
            if len(t) > settings.max_chars:
                raise ApiError(
                    422,
                    f"texts[{i}] is {len(t)} characters long; this server takes at most {settings.max_chars} per text",
                )
            if any("\ud800" <= ch <= "\udfff" for ch in t):
                raise ApiError(422, f"texts[{i}] has an unpaired surrogate escape (not a character)")
        try:
            to = None if body.to is None else rw.style_index(body.to)
            check_decoding(body.beam, False, 1.0, body.rerank)
        except TextcycleError as e:
            raise ApiError(422, str(e).replace("--", "")) from None
        costs = check_cost(texts, max(body.rerank, body.beam), settings, rw.engine.cost_factor)
        try:
            results = await _unless_disconnected(
                request, server.batcher.submit((name, to, body.beam, body.rerank), texts, costs)
            )
        except QueueFull as e:
            raise ApiError(503, f"busy: {e}; try again shortly", {"Retry-After": str(settings.retry_after_s)}) from None
        except TextcycleError as e:
            raise ApiError(422, str(e)) from None
        except Exception as e:  # noqa: BLE001 - the batch failed: the client gets one JSON line
            log.debug("rewrite failed", exc_info=e)
            raise ApiError(500, f"the rewrite failed ({type(e).__name__}: {e})") from None
        if results is None:
            return Response(status_code=499)  # the client is gone; its queued work was dropped
        return {"model": name, "results": results}

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(
            STATIC / "index.html", headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, settings=settings)
    return app


def check_cost(texts: list[str], candidates: int, settings: Settings, factor: int = 1) -> list[int]:
    """Each text's engine work (`text_cost`), or a 413: a text over a batch's worth (it cannot
    be split, so it would hold every other request for that long), or a request over its cap."""
    costs = [text_cost(t, candidates, factor) for t in texts]
    for i, cost in enumerate(costs):
        if cost > settings.max_batch_cost:
            per = f" x this model's cost factor {factor}" if factor > 1 else ""
            raise ApiError(
                413,
                f"texts[{i}] is about {cost} units of engine work ({cost // (candidates * factor)} tokens x "
                f"{candidates} candidates{per}); this server takes at most {settings.max_batch_cost} "
                "per text: send it shorter, or with a lower rerank or beam",
            )
    total = sum(costs)
    if total > settings.max_request_cost:
        raise ApiError(
            413,
            f"this request is about {total} units of engine work (tokens x candidates x the model's cost factor); this server "
            f"takes at most {settings.max_request_cost} per request: send fewer or shorter texts, "
            "or a lower rerank or beam",
        )
    return costs


async def _unless_disconnected(request: Request, work):
    """Await `work`, unless the client disconnects first: then cancel it (a queued job leaves
    the queue unstarted) and return None."""
    task = asyncio.ensure_future(work)

    async def gone():
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(gone())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        return None
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()


def app_from_env() -> FastAPI:
    """The app of one `--workers N` worker: settings from $TEXTCYCLE_SERVE_SETTINGS (JSON)."""
    return create_app(Settings(**json.loads(os.environ[SETTINGS_ENV])))
