"""A polite, resumable crawler for PTT's web front end (www.ptt.cc), for users with a network.

    python -m textcycle.ptt crawl --board Food --pages 7000-7010 --out data/ptt-raw
    python -m textcycle.ptt crawl --board Food --last 20 --out data/ptt-raw

It fetches the board index pages /bbs/<Board>/index<N>.html of the page range, then every
article they link, and writes each page to disk *before* parsing it:

    <out>/<Board>/index/index<N>.html     board index pages
    <out>/<Board>/articles/M.<...>.html    article pages (the input of `ingest`)
    <out>/<Board>/missing.txt              articles that answered 404 (deleted), not asked again

Pages already on disk are not fetched again, so an interrupted crawl resumes where it stopped
(files are written to a temporary name first and renamed, so a half-written page never counts
as done). An index page with fewer than 20 entries (the newest page of a board, still filling)
is fetched again on the next run.

Limits: each page must arrive whole within `deadline` seconds (redirects included; the socket
`timeout` only bounds each read, so a server trickling a byte a second would otherwise hold a
fetch for hours) and be at most `max_bytes` long (a larger one is not read, and not retried).

Politeness: one request at a time, at least `delay` seconds apart; the over18=1 cookie (boards
like Gossiping ask for it); failed requests (network errors, 429, 5xx) are retried with
exponential back-off (`backoff` * 2^attempt seconds, at most `max_backoff`, longer if the server
sends Retry-After); after `max_failures` pages in a row fail the crawl stops.

Safety: only https pages on the PTT host are fetched. Article links on an index page are
resolved against the index page's URL and followed only when they are https links on the same
host to an article of the board (`/bbs/<Board>/M.<...>.html`); anything else (other hosts,
file:// or other schemes, other boards) is skipped. The default fetcher (`urllib_fetch`) refuses
every URL, and every redirect, that is not https on www.ptt.cc (`UnsafeURL`, which stops the
crawl with a one-line error).

The fetch function is injectable (`fetch(url) -> str`, raising `FetchError`), and so are the
sleep and clock functions, so tests run without a network and without waiting.

This file is over 400 lines: politeness (rate, retries, back-off), deadlines, size caps and the
resumable state are one loop over pages, each with its refusal.
"""

from __future__ import annotations

import http.client
import math
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urljoin, urlsplit

from ..errors import TextcycleError
from ..files import atomic_write_text, read_lines
from .parse import ARTICLE_ID, parse_index_html

PTT_HOST = "www.ptt.cc"
BASE_URL = f"https://{PTT_HOST}"
USER_AGENT = "textcycle-ptt/0.1 (research corpus builder; polite crawler)"
FULL_INDEX_PAGE = 20  # entries on a full board index page
PAGE_DEADLINE = 120.0  # seconds for a whole page, redirects included
MAX_PAGE_BYTES = 32 * 2**20  # the largest PTT article pages (thousands of pushes) are a few MB
_BOARD = re.compile(r"[A-Za-z0-9_\-]{1,32}")


class FetchError(Exception):
    """A failed request: `status` is the HTTP status, or None for a network error."""

    retryable = True  # network errors, 429 and 5xx are retried (see Crawler.get)

    def __init__(self, url: str, status: Optional[int] = None, reason: str = "", retry_after: Optional[float] = None):
        reason = " ".join(str(reason).split())  # one line: urllib's redirect-loop reason has three
        super().__init__(f"{url}: {status or 'network error'} {reason}".strip())
        self.url, self.status, self.reason, self.retry_after = url, status, reason, retry_after


class NotFound(FetchError):
    pass


class PageTooLarge(FetchError):
    """A page over the size limit: not read, and not asked for again in this run."""

    retryable = False


class UnsafeURL(TextcycleError):
    """A URL the crawler will not fetch: not https, or not on the PTT host."""


def _url_parts(url: str):
    """(scheme, host, port, user name, path) of `url`, scheme and host lower-cased; None if
    it does not parse."""
    try:
        u = urlsplit(url)
        port = u.port  # ValueError for a port that is not a number
    except ValueError:
        return None
    return u.scheme.lower(), (u.hostname or "").lower(), port, u.username, u.path


def check_url(url: str, host: str = PTT_HOST) -> str:
    """`url` if it is an https URL on `host` (no user name, the default port); else UnsafeURL."""
    parts = _url_parts(url)
    if (
        parts is None
        or parts[0] != "https"
        or parts[1] != host.lower()
        or parts[2] not in (None, 443)
        or parts[3] is not None
    ):
        shown = url if len(url) <= 200 else url[:200] + "..."
        raise UnsafeURL(f"refusing to fetch {shown!r}: only https://{host}/ pages are fetched")
    return url


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to an https URL on the same host (PTT redirects to /ask/over18)."""

    def __init__(self, host: str):
        self.host = host

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        newurl = urljoin(req.full_url, newurl)
        try:
            check_url(newurl, self.host)
        except UnsafeURL as e:
            fp.close()
            raise UnsafeURL(f"{req.full_url} redirects elsewhere: {e}") from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Deadline:
    """Shuts a page's connections down once its time is up. A socket timeout bounds each read,
    not the page: a server that sends a byte a second never trips it."""

    def __init__(self, seconds: float):
        self.expired = False
        self._socks: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock) -> None:
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                self._shut(sock)

    @staticmethod
    def _shut(sock) -> None:
        try:  # the plain socket's shutdown, under TLS too: a blocked read returns at once
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass  # closed already

    def cancel(self) -> None:
        with self._lock:
            self._timer.cancel()
            self._socks.clear()


class _WatchedHandler(urllib.request.HTTPSHandler, urllib.request.HTTPHandler):
    """urllib's HTTP(S) handler, its connections' sockets handed to a `_Deadline` once connected.
    (Plain http is never asked for: `check_url` refuses it before a request is made.)"""

    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def _connection(self, cls):
        def make(host, **kwargs):
            conn = cls(host, **kwargs)
            connect = conn.connect

            def connect_and_watch():
                connect()
                self.deadline.watch(conn.sock)

            conn.connect = connect_and_watch
            return conn

        return make

    def https_open(self, req):
        return self.do_open(self._connection(http.client.HTTPSConnection), req, context=self._context)

    def http_open(self, req):
        return self.do_open(self._connection(http.client.HTTPConnection), req)


def _open(req: urllib.request.Request, timeout: float, host: str, deadline: Optional[_Deadline] = None):
    handlers = [_SameHostRedirects(host)] + ([_WatchedHandler(deadline)] if deadline else [])
    return urllib.request.build_opener(*handlers).open(req, timeout=timeout)


def _read_capped(resp, url: str, max_bytes: int) -> bytes:
    """The body of `resp`, or PageTooLarge once it is longer than `max_bytes` (by its
    Content-Length, before reading; else after reading one byte more than the limit)."""
    try:
        length = int(resp.headers.get("Content-Length") or -1)
    except (TypeError, ValueError, AttributeError):
        length = -1
    if length > max_bytes:
        raise PageTooLarge(url, None, f"page of {length:,} bytes, over the limit of {max_bytes:,}")
    data = resp.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PageTooLarge(url, None, f"page over the limit of {max_bytes:,} bytes")
    return data


def _decode(data: bytes, charset: Optional[str]) -> str:
    try:
        return data.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


def urllib_fetch(
    url: str,
    timeout: float = 20.0,
    host: str = PTT_HOST,
    deadline: float = PAGE_DEADLINE,
    max_bytes: int = MAX_PAGE_BYTES,
) -> str:
    """GET `url` with the over18=1 cookie; the page as text, or FetchError. Only https URLs on
    `host` are fetched, and only redirects there are followed: anything else is UnsafeURL.
    `timeout` bounds each socket operation, `deadline` the whole page (FetchError when it is
    up), `max_bytes` its size (PageTooLarge)."""
    check_url(url, host)
    req = urllib.request.Request(url, headers={"Cookie": "over18=1", "User-Agent": USER_AGENT})
    watch = _Deadline(deadline)
    try:
        with _open(req, timeout, host, watch) as resp:
            data = _read_capped(resp, url, max_bytes)
            charset = resp.headers.get_content_charset()
    except urllib.error.HTTPError as e:
        if 300 <= e.code < 400:  # urllib gives up on a loop, or after 10 redirects
            raise FetchError(url, e.code, "redirect loop (or too many redirects)") from None
        retry_after = None
        try:
            retry_after = float(e.headers.get("Retry-After")) if e.headers.get("Retry-After") else None
        except (TypeError, ValueError):
            pass
        raise FetchError(url, e.code, str(e.reason), retry_after) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, http.client.HTTPException) as e:
        if watch.expired:
            raise FetchError(url, None, f"no whole page within {deadline:g} s") from None
        raise FetchError(url, None, str(getattr(e, "reason", e)) or type(e).__name__) from None
    finally:
        watch.cancel()
    if watch.expired:  # cut short by the deadline without an error (a body with no length)
        raise FetchError(url, None, f"no whole page within {deadline:g} s")
    return _decode(data, charset)


def parse_page_range(spec: str) -> tuple[int, int]:
    """ "100-120" -> (100, 120); "100" -> (100, 100)."""
    m = re.fullmatch(r"\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?", spec or "")
    if not m:
        raise TextcycleError(f"--pages {spec!r}: expected FIRST-LAST, e.g. 100-120")
    first, last = int(m.group(1)), int(m.group(2) or m.group(1))
    if first < 1 or last < first:
        raise TextcycleError(f"--pages {spec!r}: expected 1 <= FIRST <= LAST")
    return first, last


@dataclass
class CrawlReport:
    index_fetched: int = 0
    index_cached: int = 0
    articles_fetched: int = 0
    articles_cached: int = 0
    missing: int = 0  # 404 (deleted) pages, now and in earlier runs
    deleted_entries: int = 0  # index entries without a link ("(本文已被刪除)")
    failed: list = field(default_factory=list)  # URLs that still failed after the retries

    def summary(self) -> str:
        s = (
            f"index pages: {self.index_fetched} fetched, {self.index_cached} on disk; "
            f"articles: {self.articles_fetched} fetched, {self.articles_cached} on disk, "
            f"{self.missing} gone (404), {self.deleted_entries} deleted before listing"
        )
        if self.failed:
            s += f"\nfailed after retries ({len(self.failed)}; run again to retry): " + ", ".join(self.failed[:5])
            if len(self.failed) > 5:
                s += ", ..."
        return s


class Crawler:
    def __init__(
        self,
        out_dir: str | Path,
        board: str,
        fetch: Optional[Callable[[str], str]] = None,
        delay: float = 1.0,
        retries: int = 4,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        max_failures: int = 5,
        base_url: str = BASE_URL,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] = print,
    ):
        if not _BOARD.fullmatch(board or ""):
            raise TextcycleError(f"not a PTT board name: {board!r}")
        for name, value in (("delay", delay), ("retries", retries), ("backoff", backoff), ("max_backoff", max_backoff)):
            if not math.isfinite(value) or value < 0:
                raise TextcycleError(f"{name} must be a number >= 0, not {value}")
        base = _url_parts(base_url)
        if base is None or base[0] != "https" or not base[1]:
            raise TextcycleError(f"base URL {base_url!r}: expected https://HOST")
        self.board = board
        self.root = Path(out_dir) / board
        self.index_dir = self.root / "index"
        self.article_dir = self.root / "articles"
        self.fetch = fetch or urllib_fetch
        self.delay, self.retries, self.backoff, self.max_backoff = delay, retries, backoff, max_backoff
        self.max_failures = max_failures
        self.base_url = base_url.rstrip("/")
        self.host = base[1]
        self._base_netloc = urlsplit(self.base_url).netloc.lower()
        # /bbs/<Board>/M.<...>.html, the board name in any case
        self._article_path = re.compile(
            re.escape(urlsplit(self.base_url).path)
            + "/bbs/(?i:"
            + re.escape(board)
            + ")/("
            + ARTICLE_ID.pattern
            + r")\.html"
        )
        self.sleep, self.clock, self.log = sleep, clock, log
        self._next_request = 0.0
        self._failures_in_a_row = 0
        self.requests = 0
        self._missing = self._read_missing()

    # --- bookkeeping on disk
    def _missing_file(self) -> Path:
        return self.root / "missing.txt"

    def _read_missing(self) -> set[str]:
        f = self._missing_file()
        return {ln.strip() for ln in read_lines(f) if ln.strip()} if f.is_file() else set()

    def _mark_missing(self, url: str) -> None:
        self._missing.add(url)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self._missing_file(), "a", encoding="utf-8") as fh:
                fh.write(url + "\n")
        except OSError as e:
            raise TextcycleError(f"cannot write {self._missing_file()}: {e.strerror or e}") from None

    @staticmethod
    def _save(path: Path, text: str) -> None:
        try:
            atomic_write_text(path, text)
        except OSError as e:
            raise TextcycleError(f"cannot write {path}: {e.strerror or e}") from None

    def article_url(self, href: str, page_url: str) -> Optional[str]:
        """The URL of an article link on the index page at `page_url`, or None unless it is an
        https link on the PTT host to an article of this board (other hosts, file:// and other
        schemes, other boards are not followed). Query and fragment are dropped."""
        url = urljoin(page_url, href.strip())
        try:
            u = urlsplit(url)
        except ValueError:
            return None
        if u.scheme.lower() != "https" or u.netloc.lower() != self._base_netloc:
            return None
        if not self._article_path.fullmatch(u.path):
            return None
        return f"{self.base_url}{u.path}"

    # --- requests
    def _wait_turn(self) -> None:
        now = self.clock()
        if now < self._next_request:
            self.sleep(self._next_request - now)

    def get(self, url: str) -> Optional[str]:
        """The page at `url`; None if it is gone (404) or still fails after the retries."""
        for attempt in range(self.retries + 1):
            self._wait_turn()
            self.requests += 1
            try:
                text = self.fetch(url)
            except FetchError as e:
                self._next_request = self.clock() + self.delay
                if e.status == 404 or isinstance(e, NotFound):
                    self._failures_in_a_row = 0
                    raise NotFound(url, 404) from None
                retryable = e.retryable and (e.status is None or e.status == 429 or e.status >= 500)
                if not retryable or attempt == self.retries:
                    self.log(f"failed: {e}")
                    self._failures_in_a_row += 1
                    if self._failures_in_a_row >= self.max_failures:
                        raise TextcycleError(
                            f"giving up after {self._failures_in_a_row} failed pages in a row "
                            f"(last: {e}); pages saved so far are kept, run again to resume"
                        ) from None
                    return None
                wait = min(self.max_backoff, self.backoff * (2**attempt))
                if e.retry_after:
                    wait = max(wait, min(e.retry_after, self.max_backoff))
                self.log(f"retry {attempt + 1}/{self.retries} in {wait:.0f}s: {e}")
                self.sleep(wait)
                continue
            self._next_request = self.clock() + self.delay
            self._failures_in_a_row = 0
            if "/ask/over18" in text and "main-content" not in text and "r-ent" not in text:
                raise TextcycleError(f"{url}: PTT asked the over-18 question; the over18=1 cookie was not accepted")
            return text
        return None  # not reached

    def board_url(self, page: Optional[int] = None) -> str:
        return f"{self.base_url}/bbs/{self.board}/index{'' if page is None else page}.html"

    def latest_page(self) -> int:
        """The number of the newest index page (index.html links the one before it)."""
        try:
            text = self.get(self.board_url())
        except NotFound:
            raise TextcycleError(f"board {self.board!r} not found on {self.base_url}") from None
        if text is None:
            raise TextcycleError(f"could not fetch {self.board_url()}")
        page = parse_index_html(text)
        if page.prev_page is None:
            return 1
        return page.prev_page + 1

    # --- the crawl
    def _index_page(self, n: int, report: CrawlReport, refresh: bool) -> Optional[str]:
        path = self.index_dir / f"index{n}.html"
        url = self.board_url(n)
        if path.is_file() and not refresh:
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(parse_index_html(text).entries) >= FULL_INDEX_PAGE:
                report.index_cached += 1
                return text
        try:
            text = self.get(url)
        except NotFound:  # not remembered: a page past the newest one exists later
            self.log(f"index page {n}: not found")
            return None
        if text is None:
            report.failed.append(url)
            return None
        self._save(path, text)
        report.index_fetched += 1
        return text

    def crawl(self, first: int, last: int, refresh_index: bool = False) -> CrawlReport:
        """Fetch index pages `first`..`last` and the articles they link (skipping those on disk)."""
        if first < 1 or last < first:
            raise TextcycleError(f"bad page range {first}-{last}")
        report = CrawlReport()
        for n in range(first, last + 1):
            text = self._index_page(n, report, refresh_index)
            if text is None:
                continue
            page = parse_index_html(text)
            if page.over18_gate:
                raise TextcycleError(f"index page {n}: PTT's over-18 question instead of the board")
            fetched_before = report.articles_fetched
            for entry in page.entries:
                if not entry.href:
                    report.deleted_entries += 1
                    continue
                if entry.article_id is None:
                    continue
                url = self.article_url(entry.href, self.board_url(n))
                if url is None:  # another board (rare), another host or scheme: not ours
                    shown = entry.href if len(entry.href) <= 100 else entry.href[:100] + "..."
                    self.log(f"index {n}: not following {shown!r} (not a {self.board} article on {self.host})")
                    continue
                aid = self._article_path.fullmatch(urlsplit(url).path).group(1)
                path = self.article_dir / f"{aid}.html"
                if path.is_file():
                    report.articles_cached += 1
                    continue
                if url in self._missing:
                    report.missing += 1
                    continue
                try:
                    article = self.get(url)
                except NotFound:
                    self._mark_missing(url)
                    report.missing += 1
                    continue
                if article is None:
                    report.failed.append(url)
                    continue
                self._save(path, article)
                report.articles_fetched += 1
            self.log(f"index {n}: {len(page.articles)} articles ({report.articles_fetched - fetched_before} fetched)")
        return report


def crawl_board(
    out_dir, board, first: Optional[int] = None, last: Optional[int] = None, newest: Optional[int] = None, **kwargs
) -> CrawlReport:
    """Crawl pages `first`..`last` of `board`, or the `newest` N pages."""
    refresh = kwargs.pop("refresh_index", False)
    c = Crawler(out_dir, board, **kwargs)
    if newest is not None:
        if newest < 1:
            raise TextcycleError("--last must be at least 1")
        latest = c.latest_page()
        first, last = max(1, latest - newest + 1), latest
    if first is None or last is None:
        raise TextcycleError("give a page range (--pages FIRST-LAST) or --last N")
    return c.crawl(first, last, refresh_index=refresh)


__all__ = [
    "Crawler",
    "CrawlReport",
    "FetchError",
    "NotFound",
    "PageTooLarge",
    "UnsafeURL",
    "check_url",
    "crawl_board",
    "parse_page_range",
    "urllib_fetch",
]
