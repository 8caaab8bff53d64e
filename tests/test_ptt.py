"""PTT ingest: page and JSON parsers, comment joining and cleaning, the corpus files, the crawler
(with a fake fetcher: no network), the command line, and the bundled sample pages."""
import json
import urllib.error
from pathlib import Path

import pytest

from textcycle.corpus import load_corpus
from textcycle.config import load_config
from textcycle.errors import TextcycleError
from textcycle.ptt import crawl as crawl_mod
from textcycle.ptt.__main__ import main as ptt_main
from textcycle.ptt.crawl import Crawler, FetchError, crawl_board, parse_page_range, urllib_fetch
from textcycle.ptt.ingest import IngestOptions, IngestStats, article_comments, clean_comment, ingest, _id_pattern
from textcycle.ptt.parse import (
    Article, Push, normalize_tag, parse_article_html, parse_index_html, parse_json_dump,
)

REPO = Path(__file__).resolve().parents[1]
BASE = "https://www.ptt.cc"
TAG_CLASS = {"推": "hl push-tag", "噓": "f1 hl push-tag", "→": "f1 hl push-tag"}


# --- pages in the structure of www.ptt.cc ------------------------------------------------------

def push_html(tag, user, content, when="01/02 10:00", ip="192.0.2.1"):
    return (f'<div class="push"><span class="{TAG_CLASS.get(tag, "f1 hl push-tag")}">{tag} </span>'
            f'<span class="f3 hl push-userid">{user}</span>'
            f'<span class="f3 push-content">: {content}</span>'
            f'<span class="push-ipdatetime"> {ip} {when}\n</span></div>')


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
            for a in pinned)
    paging = (f'<div class="btn-group btn-group-paging">'
              f'<a class="btn wide" href="/bbs/{board}/index1.html">最舊</a>'
              + (f'<a class="btn wide" href="/bbs/{board}/index{n - 1}.html">&lsaquo; 上頁</a>' if prev and n > 1
                 else '<a class="btn wide disabled">&lsaquo; 上頁</a>')
              + (f'<a class="btn wide" href="/bbs/{board}/index{n + 1}.html">下頁 &rsaquo;</a>' if nxt
                 else '<a class="btn wide disabled">下頁 &rsaquo;</a>')
              + f'<a class="btn wide" href="/bbs/{board}/index.html">最新</a></div>')
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


# --- parsing article pages ----------------------------------------------------------------------

def test_parse_article_page():
    html = article_html("Food", "M.1672624800.A.1B2", [
        ("推", "alice123", "好吃好吃 <a href=\"https://i.imgur.com/x.jpg\" target=\"_blank\">https://i.imgur.com/x.jpg</a>"),
        ("噓", "bob", "太貴了 &amp; 很難吃"),
        ("→", "carol", "路過"),
    ], extra_body=push_html("推", "sig", "這行在簽名檔前，不是推文"))
    art = parse_article_html(html, source="somewhere/M.1672624800.A.1B2.html")
    assert art.article_id == "M.1672624800.A.1B2" and art.board == "Food"
    assert art.title == "[心得] 測試" and art.author.startswith("writer01")
    assert [(p.tag, p.user) for p in art.pushes] == [("推", "alice123"), ("噓", "bob"), ("→", "carol")]
    assert art.pushes[0].content == "好吃好吃 https://i.imgur.com/x.jpg"   # ": " gone, link text kept
    assert art.pushes[1].content == "太貴了 & 很難吃"                        # entities decoded
    assert art.pushes[2].ipdatetime == "192.0.2.1 01/02 10:00"
    # the id also comes from the article URL when the file name has none
    assert parse_article_html(html, source="page.html").article_id == "M.1672624800.A.1B2"


def test_parse_malformed_article_pages():
    raw = (
        # no user id span
        '<div class="push"><span class="hl push-tag">推 </span><span class="f3 push-content">: 沒有帳號</span></div>'
        # no content span
        '<div class="push"><span class="f1 hl push-tag">噓 </span><span class="f3 hl push-userid">x1</span></div>'
        # an odd tag
        + push_html("?", "weird", "奇怪的標籤")
        # the "file too big" warning box: not a comment
        + '<div class="push center warning-box">檔案過大！部分文章無法顯示</div>'
        # nested markup inside the content, a <br>, unclosed final push
        + '<div class="push"><span class="hl push-tag">推 </span><span class="f3 hl push-userid">deep</span>'
          '<span class="f3 push-content">: 前面<span class="x"><b>中間</b></span><br>後面</span>'
    )
    art = parse_article_html(article_html("Test", "M.1.A.ABC", [], raw_pushes=raw), source="x.html")
    got = [(p.tag, p.user, p.content) for p in art.pushes]
    assert got == [("推", "", "沒有帳號"), ("噓", "x1", ""), ("?", "weird", "奇怪的標籤"),
                   ("推", "deep", "前面中間 後面")]
    for text in ("", "<html><body>沒有推文的頁面</body></html>", "<div class=push><span", "\x00\x01 garbage <<<>>>"):
        a = parse_article_html(text)
        assert a.pushes == [] and not a.over18_gate
    assert parse_article_html(OVER18_PAGE).over18_gate


def test_normalize_tag():
    assert [normalize_tag(t) for t in ("推 ", "噓", "→ ", "boo", "PUSH", "->", "?", "", None)] == \
        ["推", "噓", "→", "噓", "推", "→", None, None, None]


# --- index pages --------------------------------------------------------------------------------

def test_parse_index_page():
    page = parse_index_html(index_html("Food", 10, ["M.1.A.001", "M.2.A.002"], deleted=1, pinned=["M.3.A.003"]))
    assert [e.article_id for e in page.articles] == ["M.1.A.001", "M.2.A.002", "M.3.A.003"]
    assert [e.pinned for e in page.articles] == [False, False, True]
    assert len(page.entries) == 4 and page.entries[2].href is None       # the deleted one
    assert page.prev_page == 9 and page.next_page == 11
    empty = parse_index_html(index_html("Food", 1, [], prev=False, nxt=False))  # an empty board page
    assert empty.entries == [] and empty.prev_page is None and empty.next_page is None
    assert parse_index_html(OVER18_PAGE).over18_gate
    assert parse_index_html("").entries == []
    # an article page is not an index page
    assert parse_index_html(article_html("Food", "M.1.A.001", [("推", "a", "b")])).entries == []


# --- JSON dumps ---------------------------------------------------------------------------------

def test_parse_json_dumps(tmp_path):
    jw = {"articles": [
        {"article_id": "M.1.A.001", "board": "Food", "article_title": "t", "author": "w (x)",
         "messages": [{"push_tag": "推", "push_userid": "u1", "push_content": "好吃", "push_ipdatetime": "01/01 10:00"},
                      {"push_tag": "噓", "push_userid": "u2", "push_content": ": 難吃", "push_ipdatetime": ""}]},
        {"error": "invalid url"},
    ]}
    (tmp_path / "jw.json").write_text(json.dumps(jw, ensure_ascii=False), encoding="utf-8")
    arts = list(parse_json_dump(tmp_path / "jw.json"))
    assert len(arts) == 1 and arts[0].article_id == "M.1.A.001" and arts[0].board == "Food"
    assert [(p.tag, p.user, p.content) for p in arts[0].pushes] == [("推", "u1", "好吃"), ("噓", "u2", "難吃")]

    variant = [{"url": "https://www.ptt.cc/bbs/movie/M.2.A.002.html",
                "pushes": [{"tag": "boo", "userid": "u3", "content": "爛片"}, {"type": "→", "user": "u4", "text": "嗯"},
                           "not a dict", {"ipdatetime": "no tag nor content"}]}]
    (tmp_path / "v.json").write_text(json.dumps(variant, ensure_ascii=False), encoding="utf-8")
    a = list(parse_json_dump(tmp_path / "v.json"))[0]
    assert a.article_id == "M.2.A.002" and a.board == "movie"
    assert [(p.tag, p.content) for p in a.pushes] == [("boo", "爛片"), ("→", "嗯")]

    lines = [json.dumps({"article_id": f"M.{i}.A.00{i}", "comments": [{"tag": "推", "content": "讚"}]}) for i in (3, 4)]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    assert [a.article_id for a in parse_json_dump(tmp_path / "d.jsonl")] == ["M.3.A.003", "M.4.A.004"]

    (tmp_path / "one.json").write_text(json.dumps({"messages": []}), encoding="utf-8")
    assert len(list(parse_json_dump(tmp_path / "one.json"))) == 1
    (tmp_path / "bad.json").write_text('{"articles": [', encoding="utf-8")
    with pytest.raises(TextcycleError, match="not valid JSON"):
        list(parse_json_dump(tmp_path / "bad.json"))


# --- joining and cleaning -----------------------------------------------------------------------

def art(*pushes, author="writer01 (作者)"):
    return Article(article_id="M.1.A.001", board="T", author=author,
                   pushes=[Push(tag=t, user=u, content=c) for t, u, c in pushes])


def test_continuation_lines_are_joined():
    a = art(("噓", "u1", "劇情拖太長了，演員"), ("→", "u1", "也很尷尬"), ("→", "u1", "浪費錢"),
            ("推", "u2", "配樂很棒"), ("推", "u2", "看完想再看一次"),
            ("推", "u3", "我覺得"), ("噓", "u3", "不好看"),           # another tag: a new comment
            ("→", "u4", "路過"), ("→", "u5", "路過2"),                # other users: not joined
            ("推", "u6", "I like the"), ("→", "u6", "music a lot"),   # Latin words keep a space
            ("推", "u7", "前半"), ("?", "x", "奇怪"), ("→", "u7", "後半"))  # odd line breaks the chain
    stats = IngestStats()
    got = article_comments(a, IngestOptions(), stats)
    assert got == [("噓", "劇情拖太長了，演員也很尷尬浪費錢"), ("推", "配樂很棒看完想再看一次"),
                   ("推", "我覺得"), ("噓", "不好看"), ("→", "路過"), ("→", "路過2"),
                   ("推", "I like the music a lot"), ("推", "前半"), ("→", "後半")]
    assert stats.joined_lines == 4 and stats.odd_tags == 1
    assert len(article_comments(a, IngestOptions(join=False), IngestStats())) == 14 - 1
    no_arrow = article_comments(a, IngestOptions(join_arrow=False), IngestStats())
    assert ("噓", "劇情拖太長了，演員") in no_arrow and ("推", "配樂很棒看完想再看一次") in no_arrow


def test_clean_comment_strips_urls_mentions_and_ids():
    a = art(("推", "alice123", "x"), ("噓", "bob", "y"), ("推", "karen", "z"), author="writer01 (作者)")
    ids = _id_pattern(a)
    assert clean_comment("推 https://imgur.com/a.jpg 好文 www.example.com/x", ids, None) == "推 好文"
    assert clean_comment("@bob 你錯了", ids, None) == "你錯了"
    assert clean_comment("alice123 說得對，writer01 加油", ids, None) == "說得對，加油"
    assert clean_comment("KAREN 說的對", ids, None) == "說的對"           # ids are case-insensitive
    assert clean_comment("bob 太短不刪", ids, None) == "bob 太短不刪"       # 3 letters, no digit: kept
    assert clean_comment("kareninfo 不是帳號", ids, None) == "kareninfo 不是帳號"  # whole words only
    assert clean_comment("好吃!", None, None) == "好吃！"


# --- ingest: pages -> corpus files --------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_ingest_writes_neg_pos_neu(tmp_path):
    write(tmp_path / "raw" / "M.1.A.001.html", article_html("Food", "M.1.A.001", [
        ("推", "u1", "湯頭很濃，很好喝"), ("噓", "u2", "上次去等了一個小時"), ("→", "u2", "服務又很差"),
        ("推", "u3", "推"), ("噓", "u4", "https://example.com/only-a-link"), ("推", "u5", "普通普通啦"),
        ("噓", "u6", "普通普通啦"), ("→", "u7", "價位有點高喔"), ("推", "u8", "湯頭很濃，很好喝"),
        ("推", "u9", "好" * 100),
    ]))
    # the same article again (a second copy on disk) and a page without comments
    write(tmp_path / "raw" / "copy" / "M.1.A.001.html", article_html("Food", "M.1.A.001", [("推", "z", "不該出現的第二份")]))
    write(tmp_path / "raw" / "M.2.A.002.html", article_html("Food", "M.2.A.002", []))
    write(tmp_path / "raw" / "index5.html", index_html("Food", 5, ["M.1.A.001"]))  # skipped
    out = tmp_path / "out"
    stats = ingest([tmp_path / "raw"], out, IngestOptions(neutral=True, holdout=0))
    read = lambda n: (out / n).read_text(encoding="utf-8").splitlines()
    assert read("pos.txt") == ["湯頭很濃，很好喝"]
    assert read("neg.txt") == ["上次去等了一個小時服務又很差"]
    assert read("neu.txt") == ["價位有點高喔"]
    assert read("neg.dev.txt") == [] and read("pos.test.txt") == []
    assert stats.files == 3 and stats.articles == 2 and stats.duplicate_articles == 1
    assert stats.pages_without_comments == 1
    assert stats.too_short == 1 and stats.too_long == 1 and stats.empty == 1
    assert stats.duplicates == 1 and stats.both_labels == 1 and stats.joined_lines == 1
    info = json.loads((out / "ingest.json").read_text(encoding="utf-8"))
    assert info["stats"]["written"]["pos.txt"] == 1 and info["options"]["neutral"] is True
    # no neu.txt unless asked for
    ingest([tmp_path / "raw"], tmp_path / "out2", IngestOptions(holdout=0))
    assert not (tmp_path / "out2" / "neu.txt").exists()


def test_ingest_holds_out_whole_articles(tmp_path):
    files = []
    for k in range(40):
        aid = f"M.{1000 + k}.A.{k:03X}"
        pushes = [("推", f"p{k}x{j}", f"第{k}篇的好評第{j}則") for j in range(3)]
        pushes += [("噓", f"n{k}x{j}", f"第{k}篇的負評第{j}則") for j in range(3)]
        files.append(write(tmp_path / "raw" / f"{aid}.html", article_html("Food", aid, pushes)))
    out = tmp_path / "out"
    stats = ingest(files, out, IngestOptions(holdout=5, holdout_max_fraction=0.1, seed=1))
    article = lambda line: line.split("篇")[0]
    for name in ("neg", "pos"):
        train = (out / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        dev = (out / f"{name}.dev.txt").read_text(encoding="utf-8").splitlines()
        test = (out / f"{name}.test.txt").read_text(encoding="utf-8").splitlines()
        assert len(dev) == 5 and len(test) == 5 and len(train) >= 120 - 2 * 6
        assert not {article(l) for l in train} & {article(l) for l in dev + test}
        assert not {article(l) for l in dev} & {article(l) for l in test}
        assert stats.written[f"{name}.dev.txt"] == 5


def test_ingest_json_and_conversion(tmp_path):
    pytest.importorskip("opencc")
    dump = {"articles": [{"article_id": "M.9.A.009", "board": "movie", "messages": [
        {"push_tag": "推", "push_userid": "a1", "push_content": "這部電影的音樂很好聽", "push_ipdatetime": ""},
        {"push_tag": "噓", "push_userid": "a2", "push_content": "劇本寫得很爛", "push_ipdatetime": ""}]}]}
    write(tmp_path / "dump.json", json.dumps(dump, ensure_ascii=False))
    ingest([tmp_path / "dump.json"], tmp_path / "out", IngestOptions(convert="t2s", holdout=0))
    assert (tmp_path / "out" / "pos.txt").read_text(encoding="utf-8") == "这部电影的音乐很好听\n"
    assert (tmp_path / "out" / "neg.txt").read_text(encoding="utf-8") == "剧本写得很烂\n"


def test_ingest_errors(tmp_path):
    with pytest.raises(TextcycleError, match="not found"):
        ingest([tmp_path / "nope"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TextcycleError, match="no .html/.json/.jsonl files"):
        ingest([tmp_path / "empty"], tmp_path / "out")
    write(tmp_path / "nocomments" / "M.1.A.001.html", article_html("Food", "M.1.A.001", [("→", "a", "只有箭頭的留言")]))
    write(tmp_path / "nocomments" / "gate.html", OVER18_PAGE)
    with pytest.raises(TextcycleError, match=r"no 推/噓 comments found in 2 file\(s\).*1 over-18"):
        ingest([tmp_path / "nocomments"], tmp_path / "out")
    with pytest.raises(TextcycleError, match="bad length limits"):
        ingest([tmp_path / "nocomments"], tmp_path / "out", IngestOptions(min_chars=10, max_chars=5))


def test_cli_ingest_errors_are_one_line(tmp_path, capsys):
    assert ptt_main(["ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: not found") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


# --- the bundled sample ---------------------------------------------------------------------------

def test_sample_pages_become_neg_pos_corpora(tmp_path, capsys):
    sample = REPO / "data" / "ptt-sample"
    assert len(list(sample.glob("M.*.html"))) == 3
    out = tmp_path / "ptt"
    assert ptt_main(["ingest", str(sample), "--out", str(out), "--neutral"]) == 0
    printed = capsys.readouterr().out
    assert "pushes: 推 11  噓 8  → 5" in printed and "written: neg.txt 7" in printed
    neg = (out / "neg.txt").read_text(encoding="utf-8").splitlines()
    pos = (out / "pos.txt").read_text(encoding="utf-8").splitlines()
    neu = (out / "neu.txt").read_text(encoding="utf-8").splitlines()
    assert len(neg) == 7 and len(pos) == 10 and len(neu) == 3
    assert "上次去等了一個小時，服務又很差老闆還一直催人趕快吃完" in neg   # 噓 + → joined
    assert "推推 食記寫得很清楚" in pos                                # link removed
    assert "平日去就不用排啦" in pos                                  # @mention removed
    assert "寫得好，推這篇" in pos                                    # the author's id removed
    assert "結局哭爆 QQ" in pos and pos.count("結局哭爆 QQ") == 1       # deduplicated
    assert not any(l == "推" for l in neg)                            # too short
    assert not set(neg) & set(pos)
    # ... and configs/ptt.yaml reads what ingest wrote
    cfg = load_config(REPO / "configs" / "ptt.yaml", overrides=[
        f"data.{k}={out}/{f}" for k, f in (("train_0", "neg.txt"), ("train_1", "pos.txt"),
                                           ("dev_0", "neg.dev.txt"), ("dev_1", "pos.dev.txt"),
                                           ("test_0", "neg.test.txt"), ("test_1", "pos.test.txt"))])
    corpus = load_corpus(cfg.data)
    assert corpus.language == "zh"
    assert len(corpus.train[0]) + len(corpus.dev[0]) == 7 and len(corpus.train[1]) + len(corpus.dev[1]) == 10


# --- the crawler, with a fake PTT ---------------------------------------------------------------

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
            site[f"{BASE}/bbs/{board}/{aid}.html"] = article_html(board, aid, [
                ("推", f"u{n}x{i}", f"第{n}頁第{i}篇真好"), ("噓", f"v{n}x{i}", f"第{n}頁第{i}篇真爛")])
    return site, aids


def make_crawler(tmp_path, fetch, **kw):
    t = FakeTime()
    logs = []
    c = Crawler(tmp_path / "raw", "Food", fetch=fetch, delay=1.0, sleep=t.sleep, clock=t.clock,
                log=logs.append, **kw)
    return c, t, logs


def test_crawl_writes_pages_then_resumes(tmp_path):
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


def test_crawl_retries_with_exponential_backoff(tmp_path):
    site, aids = fake_board(pages=1, per_page=2, latest_entries=0)
    url = f"{BASE}/bbs/Food/{aids[0]}.html"
    fetch = FakePTT(site, fail={url: [503, None, 429]})
    c, t, logs = make_crawler(tmp_path, fetch, retries=4, backoff=2.0)
    report = c.crawl(1, 1)
    assert report.articles_fetched == 2 and not report.failed
    assert fetch.calls.count(url) == 4
    backoffs = [s for s in t.sleeps if s != 1.0]
    assert backoffs == [2.0, 4.0, 8.0]
    assert sum("retry" in l for l in logs) == 3


def test_crawl_gives_up_on_a_page_then_on_the_site(tmp_path):
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


def test_crawl_missing_pages_are_remembered(tmp_path):
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


def test_crawl_deleted_entries_empty_page_and_over18(tmp_path):
    site = {f"{BASE}/bbs/Food/index1.html": index_html("Food", 1, [], deleted=2),
            f"{BASE}/bbs/Food/index2.html": index_html("Food", 2, [])}
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
    report = crawl_board(tmp_path / "raw", "Food", newest=2, fetch=fetch, delay=0.5,
                         sleep=t.sleep, clock=t.clock, log=lambda m: None)
    assert fetch.calls[0] == f"{BASE}/bbs/Food/index.html"
    assert report.index_fetched == 2 and report.articles_fetched == 3   # pages 3 and 4
    with pytest.raises(TextcycleError, match="board 'Nope' not found"):
        crawl_board(tmp_path / "raw", "Nope", newest=1, fetch=FakePTT({}), sleep=t.sleep, clock=t.clock)
    with pytest.raises(TextcycleError, match="not a PTT board name"):
        Crawler(tmp_path, "../etc", fetch=fetch)


def test_parse_page_range():
    assert parse_page_range("100-120") == (100, 120)
    assert parse_page_range("7") == (7, 7)
    for bad in ("", "a-b", "5-3", "0-2"):
        with pytest.raises(TextcycleError):
            parse_page_range(bad)


def test_urllib_fetch_sends_the_over18_cookie(monkeypatch):
    seen = {}

    class Resp:
        headers = type("H", (), {"get_content_charset": lambda self: "utf-8"})()

        def read(self):
            return "<html>好</html>".encode()

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(req, timeout):
        seen["cookie"], seen["ua"], seen["timeout"] = req.get_header("Cookie"), req.get_header("User-agent"), timeout
        return Resp()

    monkeypatch.setattr(crawl_mod.urllib.request, "urlopen", fake_urlopen)
    assert urllib_fetch(f"{BASE}/bbs/Food/index.html", timeout=3) == "<html>好</html>"
    assert seen == {"cookie": "over18=1", "ua": crawl_mod.USER_AGENT, "timeout": 3}

    def http_error(req, timeout):
        raise urllib.error.HTTPError(req.full_url, 503, "busy", {"Retry-After": "7"}, None)

    monkeypatch.setattr(crawl_mod.urllib.request, "urlopen", http_error)
    with pytest.raises(FetchError) as e:
        urllib_fetch(f"{BASE}/x")
    assert e.value.status == 503 and e.value.retry_after == 7.0

    def net_error(req, timeout):
        raise urllib.error.URLError("no route")

    monkeypatch.setattr(crawl_mod.urllib.request, "urlopen", net_error)
    with pytest.raises(FetchError) as e:
        urllib_fetch(f"{BASE}/x")
    assert e.value.status is None


def test_cli_crawl_bad_range(capsys):
    assert ptt_main(["crawl", "--board", "Food", "--pages", "9-3"]) == 2
    assert capsys.readouterr().err.startswith("error: --pages")
