"""The PTT crawler with a fake PTT (no network): resuming, retries and back-off, 404s, the
over-18 gate, the newest pages; which links it follows (only https article links on www.ptt.cc),
and the default fetcher, which refuses every other scheme and host."""

import hashlib
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from textcycle.errors import TextcycleError
from textcycle.ptt import crawl as crawl_mod
from textcycle.ptt.crawl import Crawler, FetchError, crawl_board, parse_page_range, urllib_fetch
from textcycle.ptt.ingest import IngestOptions, ingest

from .pages import BASE, OVER18_PAGE, FakePTT, FakeTime, article_html, fake_board, index_html


def patch_open(monkeypatch, fake):
    """Answer every urllib request with `fake(req, timeout)` (no network)."""
    monkeypatch.setattr(
        urllib.request.OpenerDirector, "open", lambda self, req, data=None, timeout=None: fake(req, timeout)
    )


def test_crawl_writes_pages_then_resumes(tmp_path, make_crawler):
    site, aids = fake_board(pages=2)
    fetch = FakePTT(site)
    c, t, _ = make_crawler(tmp_path, fetch)
    report = c.crawl(1, 3)
    root = tmp_path / "raw" / "Food"
    assert sorted(p.name for p in (root / "index").iterdir()) == ["index1.html", "index2.html", "index3.html"]
    assert len(list((root / "articles").glob("M.*.html"))) == len(aids) == 43
    assert report.index_fetched == 3 and report.articles_fetched == 43 and not report.failed
    assert len(fetch.calls) == 46
    # polite: one request per second (the fake clock does not move by itself)
    assert t.sleeps == [1.0] * 45
    assert not list(root.rglob("*.part*"))  # no half-written files left
    # a second run fetches only the newest index page again (3 entries: still filling up)
    fetch2 = FakePTT(site)
    c2, _, _ = make_crawler(tmp_path, fetch2)
    r2 = c2.crawl(1, 3)
    assert fetch2.calls == [f"{BASE}/bbs/Food/index3.html"]
    assert r2.index_cached == 2 and r2.articles_cached == 43 and r2.articles_fetched == 0
    # an interrupted crawl: delete some articles, the next run fetches exactly those
    for aid in aids[5:8]:
        (root / "articles" / f"{aid}.html").unlink()
    fetch3 = FakePTT(site)
    c3, _, _ = make_crawler(tmp_path, fetch3)
    assert c3.crawl(1, 2).articles_fetched == 3
    assert sorted(fetch3.calls) == sorted(f"{BASE}/bbs/Food/{a}.html" for a in aids[5:8])
    # and the crawl output is ingest's input
    stats = ingest([tmp_path / "raw" / "Food"], tmp_path / "corpus", IngestOptions(holdout=0))
    assert stats.written["neg.txt"] == 43 and stats.written["pos.txt"] == 43


def test_crawl_retries_with_exponential_backoff(tmp_path, make_crawler):
    site, aids = fake_board(pages=1, per_page=2, latest_entries=0)
    url = f"{BASE}/bbs/Food/{aids[0]}.html"
    fetch = FakePTT(site, fail={url: [503, None, 429]})
    c, t, logs = make_crawler(tmp_path, fetch, retries=4, backoff=2.0)
    report = c.crawl(1, 1)
    assert report.articles_fetched == 2 and not report.failed
    assert fetch.calls.count(url) == 4
    backoffs = [s for s in t.sleeps if s != 1.0]
    assert backoffs == [2.0, 4.0, 8.0]
    assert sum("retry" in line for line in logs) == 3


def test_crawl_gives_up_on_a_page_then_on_the_site(tmp_path, make_crawler):
    site, aids = fake_board(pages=1, per_page=3, latest_entries=0)
    bad = f"{BASE}/bbs/Food/{aids[1]}.html"
    fetch = FakePTT(site, fail={bad: [500] * 10})
    c, t, _ = make_crawler(tmp_path, fetch, retries=2, backoff=1.0)
    report = c.crawl(1, 1)
    assert report.failed == [bad] and report.articles_fetched == 2
    assert fetch.calls.count(bad) == 3
    assert "run again to retry" in report.summary()
    # a 403 is not retried
    fetch403 = FakePTT(site, fail={f"{BASE}/bbs/Food/index1.html": [403]})
    c403, _, _ = make_crawler(tmp_path / "b", fetch403, retries=3)
    assert c403.crawl(1, 1).failed == [f"{BASE}/bbs/Food/index1.html"] and len(fetch403.calls) == 1
    # the network is down: stop after max_failures pages in a row
    down = FakePTT({}, fail={u: [None] * 99 for u in site})
    c_down, _, _ = make_crawler(tmp_path / "c", down, retries=1, backoff=0.5, max_failures=1)
    with pytest.raises(TextcycleError, match="giving up after 1 failed pages in a row"):
        c_down.crawl(1, 1)


def test_crawl_missing_pages_are_remembered(tmp_path, make_crawler):
    site, aids = fake_board(pages=1, per_page=3, latest_entries=0)
    gone = f"{BASE}/bbs/Food/{aids[2]}.html"
    del site[gone]
    fetch = FakePTT(site)
    c, _, _ = make_crawler(tmp_path, fetch)
    report = c.crawl(1, 3)  # index3 does not exist (yet)
    assert report.missing == 1 and report.articles_fetched == 2
    missing = (tmp_path / "raw" / "Food" / "missing.txt").read_text(encoding="utf-8").split()
    assert missing == [gone]  # an index page past the newest is not remembered: it comes later
    fetch2 = FakePTT(site)
    c2, _, _ = make_crawler(tmp_path, fetch2)
    assert c2.crawl(1, 3).missing == 1
    # the 404 article is not asked again; index pages with fewer than 20 entries and index3 are
    assert fetch2.calls == [f"{BASE}/bbs/Food/index{n}.html" for n in (1, 2, 3)]


def test_crawl_deleted_entries_empty_page_and_over18(tmp_path, make_crawler):
    site = {
        f"{BASE}/bbs/Food/index1.html": index_html("Food", 1, [], deleted=2),
        f"{BASE}/bbs/Food/index2.html": index_html("Food", 2, []),
    }
    c, _, _ = make_crawler(tmp_path, FakePTT(site))
    report = c.crawl(1, 2)
    assert report.deleted_entries == 2 and report.articles_fetched == 0 and not report.failed
    gate = FakePTT({f"{BASE}/bbs/Food/index1.html": OVER18_PAGE})
    cg, _, _ = make_crawler(tmp_path / "g", gate)
    with pytest.raises(TextcycleError, match="over-18"):
        cg.crawl(1, 1)


def test_crawl_newest_pages(tmp_path):
    site, aids = fake_board(pages=3, per_page=2, latest_entries=1)
    fetch = FakePTT(site)
    t = FakeTime()
    report = crawl_board(
        tmp_path / "raw", "Food", newest=2, fetch=fetch, delay=0.5, sleep=t.sleep, clock=t.clock, log=lambda m: None
    )
    assert fetch.calls[0] == f"{BASE}/bbs/Food/index.html"
    assert report.index_fetched == 2 and report.articles_fetched == 3  # pages 3 and 4
    with pytest.raises(TextcycleError, match="board 'Nope' not found"):
        crawl_board(tmp_path / "raw", "Nope", newest=1, fetch=FakePTT({}), sleep=t.sleep, clock=t.clock)
    with pytest.raises(TextcycleError, match="not a PTT board name"):
        Crawler(tmp_path, "../etc", fetch=fetch)


def test_parse_page_range():
    assert parse_page_range("100-120") == (100, 120)
    assert parse_page_range("7") == (7, 7)
    for bad in ("", "a-b", "5-3", "0-2", "１-２", "1-2-3", "-5"):
        with pytest.raises(TextcycleError):
            parse_page_range(bad)


def test_urllib_fetch_sends_the_over18_cookie(monkeypatch):
    seen = {}

    class Resp:
        headers = type("H", (), {"get_content_charset": lambda self: "utf-8"})()

        def read(self, n=-1):
            return "<html>好</html>".encode()

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(req, timeout):
        seen["cookie"], seen["ua"], seen["timeout"] = req.get_header("Cookie"), req.get_header("User-agent"), timeout
        return Resp()

    patch_open(monkeypatch, fake_urlopen)
    assert urllib_fetch(f"{BASE}/bbs/Food/index.html", timeout=3) == "<html>好</html>"
    assert seen == {"cookie": "over18=1", "ua": crawl_mod.USER_AGENT, "timeout": 3}

    def http_error(req, timeout):
        raise urllib.error.HTTPError(req.full_url, 503, "busy", {"Retry-After": "7"}, None)

    patch_open(monkeypatch, http_error)
    with pytest.raises(FetchError) as e:
        urllib_fetch(f"{BASE}/x")
    assert e.value.status == 503 and e.value.retry_after == 7.0

    def net_error(req, timeout):
        raise urllib.error.URLError("no route")

    patch_open(monkeypatch, net_error)
    with pytest.raises(FetchError) as e:
        urllib_fetch(f"{BASE}/x")
    assert e.value.status is None


def tree_digest(root):
    """{path: sha256} of every file under `root`."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


class HostileWeb(FakePTT):
    """FakePTT for www.ptt.cc, and for every other URL what a naive fetcher would give: the bytes
    of a file:// path, a page of another host."""

    def __call__(self, url):
        if url.startswith("file:"):
            self.calls.append(url)
            return open(urlsplit(url).path, encoding="utf-8").read()
        if not url.startswith(BASE + "/"):
            self.calls.append(url)
            return "EVIL PAGE from " + url
        return super().__call__(url)


def test_crawl_follows_only_https_article_links_on_ptt(tmp_path, make_crawler):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET\n", encoding="utf-8")
    hostile = [
        f"file://{secret}#/bbs/Food/M.1.A.001.html",  # file://, the old hole
        f"file://{secret}?/bbs/Food/M.1.A.002.html",
        f"file://localhost{secret}#/bbs/Food/M.1.A.003.html",
        "https://evil.example/bbs/Food/M.1.A.004.html",  # another host
        "//evil.example/bbs/Food/M.1.A.005.html",  # scheme-relative: another host
        "https://www.ptt.cc.evil.example/bbs/Food/M.1.A.006.html",
        "https://someone@www.ptt.cc/bbs/Food/M.1.A.007.html",  # user info
        "https://www.ptt.cc:8443/bbs/Food/M.1.A.008.html",  # another port
        "http://www.ptt.cc/bbs/Food/M.1.A.009.html",  # not https
        "ftp://www.ptt.cc/bbs/Food/M.1.A.00A.html",
        "javascript:alert('/bbs/Food/M.1.A.00B.html')",
        "https://www.ptt.cc/bbs/Other/M.1.A.00C.html?/bbs/Food/",  # another board
        "https://www.ptt.cc/bbs/Food/../../etc/M.1.A.00D.html",  # dot segments leave the board
        "https://www.ptt.cc/redirect?to=/bbs/Food/M.1.A.00E.html",
    ]
    good = {  # href -> the URL fetched
        "/bbs/Food/M.2.A.001.html": f"{BASE}/bbs/Food/M.2.A.001.html",
        "M.2.A.002.html": f"{BASE}/bbs/Food/M.2.A.002.html",  # relative to the index page
        "https://www.ptt.cc/bbs/food/M.2.A.003.html": f"{BASE}/bbs/food/M.2.A.003.html",
        "HTTPS://WWW.PTT.CC/bbs/Food/M.2.A.004.html#frag": f"{BASE}/bbs/Food/M.2.A.004.html",
    }
    page = index_html("Food", 1, []).replace(
        "</div></div></body>",
        "".join(
            f'<div class="r-ent"><div class="title"><a href="{h}">[閒聊] x</a></div></div>'
            for h in hostile + list(good)
        )
        + "</div></div></body>",
    )
    site = {f"{BASE}/bbs/Food/index1.html": page}
    for url in good.values():
        aid = url.rsplit("/", 1)[1][:-5]
        site[url] = article_html("Food", aid, [("推", "u1", f"好文 {aid}")])
    fetch = HostileWeb(site)
    before = tree_digest(tmp_path)
    c, _, logs = make_crawler(tmp_path, fetch)
    report = c.crawl(1, 1)
    assert fetch.calls == [f"{BASE}/bbs/Food/index1.html", *good.values()]
    assert report.articles_fetched == len(good) and not report.failed
    saved = tmp_path / "raw" / "Food" / "articles"
    assert sorted(p.name for p in saved.iterdir()) == sorted(u.rsplit("/", 1)[1] for u in good.values())
    for p in (tmp_path / "raw").rglob("*"):
        if p.is_file():
            assert "SECRET" not in p.read_text(encoding="utf-8") and "EVIL" not in p.read_text(encoding="utf-8")
    after = tree_digest(tmp_path)
    assert {p: h for p, h in after.items() if (tmp_path / "raw") not in p.parents} == before
    assert sum("not following" in line for line in logs) == len(hostile)


def test_urllib_fetch_refuses_file_urls(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET\n", encoding="utf-8")
    for url in (f"file://{secret}", "file:///etc/passwd", f"FILE://localhost{secret}"):
        with pytest.raises(TextcycleError, match="refusing to fetch .*only https://www.ptt.cc/"):
            urllib_fetch(url)


def test_urllib_fetch_refuses_other_schemes_and_hosts(tmp_path, monkeypatch):
    opened = []
    patch_open(monkeypatch, lambda req, timeout: opened.append(req.full_url))
    for url in (
        "http://www.ptt.cc/bbs/Food/index.html",
        "ftp://www.ptt.cc/x",
        "data:text/plain,SECRET",
        "https://evil.example/bbs/Food/index.html",
        "https://www.ptt.cc.evil.example/",
        "https://user:pw@www.ptt.cc/",
        "https://www.ptt.cc:8443/",
        "https://www.ptt.cc:bad/",
        "//www.ptt.cc/bbs/Food/index.html",
        "/etc/passwd",
        "",
        "https://[::1/",
    ):
        with pytest.raises(crawl_mod.UnsafeURL, match="refusing to fetch"):
            urllib_fetch(url)
    assert opened == []
    # the refusal is not a FetchError: the crawler does not retry it, the crawl stops (exit 2)
    t = FakeTime()
    c = Crawler(
        tmp_path / "unused",
        "Food",
        base_url=BASE,
        sleep=t.sleep,
        clock=t.clock,
        log=lambda m: None,
        fetch=lambda url: urllib_fetch("file:///etc/passwd"),
    )
    with pytest.raises(TextcycleError, match="refusing"):
        c.get(f"{BASE}/bbs/Food/index.html")
    assert c.requests == 1


def test_redirects_are_followed_only_on_ptt():
    handler = crawl_mod._SameHostRedirects("www.ptt.cc")
    req = urllib.request.Request(f"{BASE}/bbs/Gossiping/index.html")

    class Fp:
        closed = False

        def close(self):
            self.closed = True

    new = handler.redirect_request(req, Fp(), 302, "Found", {}, "/ask/over18?from=%2Fbbs%2FGossiping")
    assert new.full_url == f"{BASE}/ask/over18?from=%2Fbbs%2FGossiping"
    for target in ("http://www.ptt.cc/x", "https://evil.example/x", "file:///etc/passwd"):
        fp = Fp()
        with pytest.raises(crawl_mod.UnsafeURL, match="redirects elsewhere"):
            handler.redirect_request(req, fp, 302, "Found", {}, target)
        assert fp.closed


def test_urllib_fetch_unknown_charset(monkeypatch):
    class Resp:
        headers = type("H", (), {"get_content_charset": lambda self: "x-no-such-charset"})()

        def read(self, n=-1):
            return "好\xff".encode() + b"\xff"

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    patch_open(monkeypatch, lambda req, timeout: Resp())
    assert urllib_fetch(f"{BASE}/bbs/Food/index.html") == "好\xff\ufffd"


def test_crawler_rejects_bad_settings(tmp_path):
    for kw in ({"delay": float("nan")}, {"delay": float("inf")}, {"backoff": -1}, {"retries": -1}):
        with pytest.raises(TextcycleError, match="must be a number >= 0"):
            Crawler(tmp_path, "Food", **kw)
    for base in ("http://www.ptt.cc", "file:///tmp", "www.ptt.cc"):
        with pytest.raises(TextcycleError, match="expected https://HOST"):
            Crawler(tmp_path, "Food", base_url=base)
    # a damaged missing.txt is a one-line error, not a UnicodeDecodeError
    (tmp_path / "Food").mkdir()
    (tmp_path / "Food" / "missing.txt").write_bytes(b"https://www.ptt.cc/bbs/Food/M.1.A.001.html\n\xff\n")
    with pytest.raises(TextcycleError, match="line 2 is not valid UTF-8"):
        Crawler(tmp_path, "Food")
