"""Pages in the structure of www.ptt.cc, a fake PTT server and a fake clock for the PTT tests."""

from pathlib import Path

from textcycle.ptt.crawl import FetchError

REPO = Path(__file__).resolve().parents[2]
BASE = "https://www.ptt.cc"
TAG_CLASS = {"推": "hl push-tag", "噓": "f1 hl push-tag", "→": "f1 hl push-tag"}


# --- pages in the structure of www.ptt.cc ------------------------------------------------------


def push_html(tag, user, content, when="01/02 10:00", ip="192.0.2.1"):
    return (
        f'<div class="push"><span class="{TAG_CLASS.get(tag, "f1 hl push-tag")}">{tag} </span>'
        f'<span class="f3 hl push-userid">{user}</span>'
        f'<span class="f3 push-content">: {content}</span>'
        f'<span class="push-ipdatetime"> {ip} {when}\n</span></div>'
    )


def article_html(board, aid, pushes, author="writer01 (作者)", title="[心得] 測試", extra_body="", raw_pushes=""):
    url = f"{BASE}/bbs/{board}/{aid}.html"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title} - 看板 {board} - 批踢踢實業坊</title></head>
<body><div id="topbar-container"><div id="topbar" class="bbs-content">
<a class="board" href="/bbs/{board}/index.html"><span class="board-label">看板 </span>{board}</a></div></div>
<div id="main-container">
<div id="main-content" class="bbs-screen bbs-content"><div class="article-metaline"><span class="article-meta-tag">作者</span><span class="article-meta-value">{author}</span></div><div class="article-metaline-right"><span class="article-meta-tag">看板</span><span class="article-meta-value">{board}</span></div><div class="article-metaline"><span class="article-meta-tag">標題</span><span class="article-meta-value">{title}</span></div><div class="article-metaline"><span class="article-meta-tag">時間</span><span class="article-meta-value">Mon Jan  2 10:00:00 2023</span></div>內文第一行
{extra_body}
--
<span class="f2">※ 發信站: 批踢踢實業坊(ptt.cc), 來自: 192.0.2.9 (臺灣)
</span><span class="f2">※ 文章網址: <a href="{url}" target="_blank" rel="noopener noreferrer nofollow">{url}</a>
</span>{"".join(push_html(*p) for p in pushes)}{raw_pushes}</div>
</div></body></html>
"""


def index_html(board, n, aids, deleted=0, pinned=(), prev=True, nxt=True):
    ents = []
    for aid in aids:
        ents.append(f"""<div class="r-ent">
<div class="nrec"><span class="hl f3">5</span></div>
<div class="title">
<a href="/bbs/{board}/{aid}.html">[閒聊] 文章 {aid}</a>
</div>
<div class="meta"><div class="author">someone</div><div class="article-menu"></div><div class="date"> 1/02</div><div class="mark"></div></div>
</div>""")
    for _ in range(deleted):
        ents.append("""<div class="r-ent"><div class="nrec"></div><div class="title">
(本文已被刪除) [someone]
</div><div class="meta"><div class="author">-</div><div class="date"> 1/02</div></div></div>""")
    sep = ""
    if pinned:
        sep = '<div class="r-list-sep"></div>' + "".join(
            f'<div class="r-ent"><div class="title"><a href="/bbs/{board}/{a}.html">[公告] 板規</a></div></div>'
            for a in pinned
        )
    paging = (
        f'<div class="btn-group btn-group-paging">'
        f'<a class="btn wide" href="/bbs/{board}/index1.html">最舊</a>'
        + (
            f'<a class="btn wide" href="/bbs/{board}/index{n - 1}.html">&lsaquo; 上頁</a>'
            if prev and n > 1
            else '<a class="btn wide disabled">&lsaquo; 上頁</a>'
        )
        + (
            f'<a class="btn wide" href="/bbs/{board}/index{n + 1}.html">下頁 &rsaquo;</a>'
            if nxt
            else '<a class="btn wide disabled">下頁 &rsaquo;</a>'
        )
        + f'<a class="btn wide" href="/bbs/{board}/index.html">最新</a></div>'
    )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>看板 {board} 文章列表 - 批踢踢實業坊</title></head>
<body><div id="action-bar-container"><div class="action-bar"><div class="btn-group btn-group-dir">
<a class="btn selected" href="/bbs/{board}/index.html">看板</a></div>{paging}</div></div>
<div id="main-container"><div class="r-list-container action-bar-margin bbs-screen">
<div class="search-bar"><form type="get" action="search" id="search-bar"><input class="query" type="text" name="q" value="" placeholder="搜尋文章&#x22ef;"></form></div>
{"".join(ents)}{sep}
</div></div></body></html>"""


OVER18_PAGE = """<html><body><div class="over18-notice"><p>本網站已依網站內容分級規定處理</p>
<form action="/ask/over18" method="post"><input type="hidden" name="from" value="/bbs/Gossiping/index.html">
<button class="btn-big" type="submit" name="yes" value="yes">我同意，我已年滿十八歲<br><small>進入</small></button>
</form></div></body></html>"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class FakePTT:
    """Serves pages from a dict; `fail` maps a URL to a list of statuses to answer first."""

    def __init__(self, pages: dict, fail: dict | None = None):
        self.pages, self.fail, self.calls = pages, {k: list(v) for k, v in (fail or {}).items()}, []

    def __call__(self, url: str) -> str:
        self.calls.append(url)
        if self.fail.get(url):
            status = self.fail[url].pop(0)
            raise FetchError(url, status, "fake", retry_after=None)
        if url not in self.pages:
            raise FetchError(url, 404, "Not Found")
        return self.pages[url]


class FakeTime:
    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def sleep(self, s):
        self.sleeps.append(round(s, 3))
        self.now += s

    def clock(self):
        return self.now


def fake_board(board="Food", pages=2, per_page=20, latest_entries=3):
    """Index pages 1..pages (full), a newest page pages+1 with `latest_entries`, and the articles."""
    site = {}
    aids = []
    for n in range(1, pages + 2):
        count = per_page if n <= pages else latest_entries
        ids = [f"M.{n * 100 + i}.A.{n:X}{i:02X}" for i in range(count)]
        aids += ids
        html = index_html(board, n, ids, nxt=n <= pages)
        site[f"{BASE}/bbs/{board}/index{n}.html"] = html
        if n == pages + 1:
            site[f"{BASE}/bbs/{board}/index.html"] = html
        for i, aid in enumerate(ids):
            site[f"{BASE}/bbs/{board}/{aid}.html"] = article_html(
                board, aid, [("推", f"u{n}x{i}", f"第{n}頁第{i}篇真好"), ("噓", f"v{n}x{i}", f"第{n}頁第{i}篇真爛")]
            )
    return site, aids
