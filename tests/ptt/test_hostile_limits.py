"""Issue 24, the PTT part: a hostile server against the fetcher (a page trickled a byte at a time,
a page far too large, a redirect loop), a comment of a million continuation lines against the
ingest, and a full disk in the middle of writing the corpus.

The fetcher runs against a real HTTP server on 127.0.0.1 (a thread of this process). It fetches
only https pages on www.ptt.cc; here `check_url` is widened to that server, the rest is the real
code path (sockets, urllib, the redirect handler)."""

import errno
import http.server
import os
import random
import re
import stat
import threading
import time
from pathlib import Path

import pytest

from textcycle.errors import TextcycleError
from textcycle.ptt import crawl as crawl_mod
from textcycle.ptt.crawl import Crawler, FetchError, urllib_fetch
from textcycle.ptt.ingest import IngestOptions, IngestStats, article_comments, ingest
from textcycle.ptt.parse import Article, Push

from .pages import FakeTime, article_html


class Hostile(http.server.BaseHTTPRequestHandler):
    """/ok a small page; /trickle a 1000-byte page at a byte per 20 ms; /slow-headers headers at a
    byte per 20 ms; /huge a page that says it is 200 MiB; /endless a page without a length that
    never ends; /loop a redirect to itself."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up: what it should do

    def _answer(self):
        if self.path == "/ok":
            body = "<html>好</html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.02)
        elif self.path == "/slow-headers":
            self.wfile.write(b"HTTP/1.0 200 OK\r\n")
            for _ in range(2000):
                self.wfile.write(b"X")  # a header line that never ends
                self.wfile.flush()
                time.sleep(0.02)
        elif self.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(200 * 2**20))
            self.end_headers()
            self.wfile.write(b"x" * 2**16)
        elif self.path == "/endless":
            self.send_response(200)
            self.end_headers()  # no length: the body ends when the connection does
            chunk = b"x" * 2**16
            for _ in range(64 * 16):  # up to 64 MiB, or until the client hangs up
                self.wfile.write(chunk)
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture
def server(monkeypatch):
    """The base URL of a `Hostile` server; the fetcher may fetch from it (and only from it)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"

    def check_url(url, host=None):
        if not url.startswith(base + "/"):
            raise crawl_mod.UnsafeURL(f"refusing to fetch {url!r}")
        return url

    monkeypatch.setattr(crawl_mod, "check_url", check_url)
    yield base
    srv.shutdown()
    srv.server_close()


def test_a_normal_page_still_arrives(server):
    assert urllib_fetch(f"{server}/ok", host="127.0.0.1") == "<html>好</html>"


@pytest.mark.parametrize("path", ["/trickle", "/slow-headers"])
def test_a_trickled_page_ends_at_the_deadline(server, path):
    """Before: no total deadline; a byte a second held one fetch 40 s (the socket timeout of 20 s
    bounds each read only)."""
    t0 = time.monotonic()
    with pytest.raises(FetchError, match=r"no whole page within 1 s") as e:
        urllib_fetch(f"{server}{path}", timeout=10, host="127.0.0.1", deadline=1.0)
    assert time.monotonic() - t0 < 5
    assert e.value.status is None and e.value.retryable  # a slow server may be fine later


def test_a_page_over_the_size_limit_is_not_read(server):
    """Before: a 200 MiB page was read whole (429 MB RSS)."""
    from textcycle.ptt.crawl import PageTooLarge

    with pytest.raises(PageTooLarge, match="209,715,200 bytes, over the limit of 1,048,576"):
        urllib_fetch(f"{server}/huge", host="127.0.0.1", max_bytes=2**20)
    t0 = time.monotonic()
    with pytest.raises(PageTooLarge, match="over the limit of 1,048,576 bytes"):
        urllib_fetch(f"{server}/endless", host="127.0.0.1", max_bytes=2**20)
    assert time.monotonic() - t0 < 10


def test_a_redirect_loop_is_one_line(server):
    """Before: urllib's three-line 'infinite loop' message."""
    with pytest.raises(FetchError) as e:
        urllib_fetch(f"{server}/loop", host="127.0.0.1")
    assert "\n" not in str(e.value) and "redirect loop" in str(e.value)


def test_the_crawler_does_not_retry_a_page_too_large(tmp_path):
    from textcycle.ptt.crawl import PageTooLarge

    t = FakeTime()
    logs, calls = [], []

    def fetch(url):
        calls.append(url)
        raise PageTooLarge(url, None, "page over the limit of 10 bytes")

    c = Crawler(tmp_path, "Food", fetch=fetch, sleep=t.sleep, clock=t.clock, log=logs.append)
    assert c.get("https://www.ptt.cc/bbs/Food/M.1.A.001.html") is None
    assert len(calls) == 1 and len(logs) == 1 and "over the limit" in logs[0]


def test_fetch_errors_are_one_line():
    assert "\n" not in str(FetchError("u", 302, "a\nb\nc"))


def test_crawl_command_refuses_bad_limits(tmp_path):
    from textcycle.ptt.__main__ import main

    for opt in ("--page-deadline", "--max-page-mb"):
        for bad in ("0", "nan", "-1"):
            assert main(["crawl", "--board", "Food", "--pages", "1", "--out", str(tmp_path), opt, bad]) == 2
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# ingest: continuation lines, a full disk


def pairwise_join(parts):
    """The old join, one line at a time: a space only between two Latin letters or digits."""
    text = ""
    for b in parts:
        if text and b:
            text += (" " if re.search(r"[A-Za-z0-9]$", text) and re.match(r"[A-Za-z0-9]", b) else "") + b
        else:
            text = text or b
    return text


def test_join_parts_matches_pairwise_joining():
    from textcycle.ptt.ingest import join_parts

    assert join_parts([]) == ""
    assert join_parts(["abc", "", "def"]) == "abc def"  # an empty line adds nothing
    assert join_parts(["hello", "world", "好", "ok", "7", "8", "\u212a"]) == "hello world好ok 7 8\u212a"
    rng = random.Random(0)
    pieces = ["", "a", "Z9", "好", "x好", "好x", "1", " ", "é", "K"]
    for _ in range(2000):
        parts = [rng.choice(pieces) for _ in range(rng.randrange(6))]
        assert join_parts(parts) == pairwise_join(parts), parts


def test_a_comment_of_many_continuation_lines_is_joined_in_linear_time():
    """Before: joining was quadratic (each line copied the comment so far and searched it):
    same-user same-tag pushes of 1/2/4 MB took 1.1/3.6/13.2 s; this case (6,000 lines, 6 million
    characters, 18 MB of UTF-8) took over a minute."""
    n, width = 6000, 1000
    pushes = [Push("推", "u1", "好" * (width - 4) + f"{i:04d}", "") for i in range(n)]
    art = Article(board="Food", article_id="M.1.A.001", pushes=pushes)
    stats = IngestStats()
    t0 = time.monotonic()
    comments = article_comments(art, IngestOptions(), stats)
    assert time.monotonic() - t0 < 20  # linear: well under a second here
    assert len(comments) == 1 and stats.joined_lines == n - 1
    assert comments[0][1] == "".join(p.content for p in pushes)


def write_pages(raw: Path) -> None:
    raw.mkdir()
    for i in range(3):
        aid = f"M.{i}.A.001"
        pushes = [("推", f"u{i}a", f"這家的湯頭很濃很好喝{i}"), ("噓", f"u{i}b", f"等了一個小時才吃到{i}")]
        (raw / f"{aid}.html").write_text(article_html("Food", aid, pushes), encoding="utf-8")


def test_ingest_on_a_full_disk_leaves_no_output_file(tmp_path, monkeypatch):
    """Before: the files were written one by one, so a full disk left neg.txt alone."""
    write_pages(tmp_path / "raw")
    import textcycle.files as files

    real_fdopen, opened = os.fdopen, []

    def fdopen(fd, mode="r", *a, **kw):
        opened.append(fd)
        if len(opened) == 3:  # the third file of the set: the disk is full
            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fdopen(fd, mode, *a, **kw)

    monkeypatch.setattr(files.os, "fdopen", fdopen)
    with pytest.raises(TextcycleError, match="No space left on device") as e:
        ingest([tmp_path / "raw"], tmp_path / "out", IngestOptions(holdout=0))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # no file, no temporary
    monkeypatch.undo()
    ingest([tmp_path / "raw"], tmp_path / "out", IngestOptions(holdout=0))
    assert (tmp_path / "out" / "neg.txt").is_file() and (tmp_path / "out" / "ingest.json").is_file()


def test_ingest_on_dev_full_is_one_line(tmp_path, monkeypatch):
    """The same with the kernel's own full disk: every write to /dev/full fails with ENOSPC."""
    if not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)):
        pytest.skip("no /dev/full device")
    write_pages(tmp_path / "raw")
    import textcycle.files as files

    real_mkstemp = files.tempfile.mkstemp

    def mkstemp(prefix="", dir=None, **kw):
        fd, name = real_mkstemp(prefix=prefix, dir=dir, **kw)
        if prefix == ".pos.txt.":  # one file of the set lands on a full disk
            os.close(fd)
            fd = os.open("/dev/full", os.O_WRONLY)
        return fd, name

    monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp)
    with pytest.raises(TextcycleError, match="No space left on device"):
        ingest([tmp_path / "raw"], tmp_path / "out", IngestOptions(holdout=0))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
