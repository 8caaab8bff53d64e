"""PTT parsers: saved article pages (malformed ones too), board index pages, JSON dumps
(including files that cannot be read: not UTF-8, not JSON, nested too deeply)."""

import json

import pytest

from textcycle.errors import TextcycleError
from textcycle.ptt.parse import normalize_tag, parse_article_html, parse_index_html, parse_json_dump

from .pages import OVER18_PAGE, article_html, index_html, push_html


def test_parse_article_page():
    html = article_html(
        "Food",
        "M.1672624800.A.1B2",
        [
            (
                "推",
                "alice123",
                '好吃好吃 <a href="https://i.imgur.com/x.jpg" target="_blank">https://i.imgur.com/x.jpg</a>',
            ),
            ("噓", "bob", "太貴了 &amp; 很難吃"),
            ("→", "carol", "路過"),
        ],
        extra_body=push_html("推", "sig", "這行在簽名檔前，不是推文"),
    )
    art = parse_article_html(html, source="somewhere/M.1672624800.A.1B2.html")
    assert art.article_id == "M.1672624800.A.1B2" and art.board == "Food"
    assert art.title == "[心得] 測試" and art.author.startswith("writer01")
    assert [(p.tag, p.user) for p in art.pushes] == [("推", "alice123"), ("噓", "bob"), ("→", "carol")]
    assert art.pushes[0].content == "好吃好吃 https://i.imgur.com/x.jpg"  # ": " gone, link text kept
    assert art.pushes[1].content == "太貴了 & 很難吃"  # entities decoded
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
    assert got == [
        ("推", "", "沒有帳號"),
        ("噓", "x1", ""),
        ("?", "weird", "奇怪的標籤"),
        ("推", "deep", "前面中間 後面"),
    ]
    for text in ("", "<html><body>沒有推文的頁面</body></html>", "<div class=push><span", "\x00\x01 garbage <<<>>>"):
        a = parse_article_html(text)
        assert a.pushes == [] and not a.over18_gate
    assert parse_article_html(OVER18_PAGE).over18_gate


def test_normalize_tag():
    assert [normalize_tag(t) for t in ("推 ", "噓", "→ ", "boo", "PUSH", "->", "?", "", None)] == [
        "推",
        "噓",
        "→",
        "噓",
        "推",
        "→",
        None,
        None,
        None,
    ]


def test_parse_index_page():
    page = parse_index_html(index_html("Food", 10, ["M.1.A.001", "M.2.A.002"], deleted=1, pinned=["M.3.A.003"]))
    assert [e.article_id for e in page.articles] == ["M.1.A.001", "M.2.A.002", "M.3.A.003"]
    assert [e.pinned for e in page.articles] == [False, False, True]
    assert len(page.entries) == 4 and page.entries[2].href is None  # the deleted one
    assert page.prev_page == 9 and page.next_page == 11
    empty = parse_index_html(index_html("Food", 1, [], prev=False, nxt=False))  # an empty board page
    assert empty.entries == [] and empty.prev_page is None and empty.next_page is None
    assert parse_index_html(OVER18_PAGE).over18_gate
    assert parse_index_html("").entries == []
    # an article page is not an index page
    assert parse_index_html(article_html("Food", "M.1.A.001", [("推", "a", "b")])).entries == []


def test_parse_json_dumps(tmp_path):
    jw = {
        "articles": [
            {
                "article_id": "M.1.A.001",
                "board": "Food",
                "article_title": "t",
                "author": "w (x)",
                "messages": [
                    {"push_tag": "推", "push_userid": "u1", "push_content": "好吃", "push_ipdatetime": "01/01 10:00"},
                    {"push_tag": "噓", "push_userid": "u2", "push_content": ": 難吃", "push_ipdatetime": ""},
                ],
            },
            {"error": "invalid url"},
        ]
    }
    (tmp_path / "jw.json").write_text(json.dumps(jw, ensure_ascii=False), encoding="utf-8")
    arts = list(parse_json_dump(tmp_path / "jw.json"))
    assert len(arts) == 1 and arts[0].article_id == "M.1.A.001" and arts[0].board == "Food"
    assert [(p.tag, p.user, p.content) for p in arts[0].pushes] == [("推", "u1", "好吃"), ("噓", "u2", "難吃")]

    variant = [
        {
            "url": "https://www.ptt.cc/bbs/movie/M.2.A.002.html",
            "pushes": [
                {"tag": "boo", "userid": "u3", "content": "爛片"},
                {"type": "→", "user": "u4", "text": "嗯"},
                "not a dict",
                {"ipdatetime": "no tag nor content"},
            ],
        }
    ]
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


def test_json_dump_errors_are_one_line_textcycle_errors(tmp_path):
    """Bad files raise TextcycleError naming the file (ingest skips them), never a RecursionError,
    a UnicodeDecodeError or a ValueError."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(TextcycleError, match=r"deep\.json: JSON nested too deeply"):
        list(parse_json_dump(deep))
    deep_lines = tmp_path / "deep.jsonl"
    deep_lines.write_text('{"messages": []}\n' + "[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(TextcycleError, match=r"nested too deeply to read \(line 2\)"):
        list(parse_json_dump(deep_lines))
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"messages": []}\n{"title": "caf\xe9"}\n')
    with pytest.raises(TextcycleError, match=r"latin1\.json: not UTF-8 text \(line 2\)"):
        list(parse_json_dump(latin1))


def test_json_dump_odd_values(tmp_path):
    """Huge numbers (Python refuses to read ints of 4300+ digits), lists where text belongs,
    lone surrogates and U+2028 inside JSON Lines strings are read, not errors."""
    big = "9" * 5000
    f = tmp_path / "odd.json"
    f.write_text(
        '{"article_id": ' + big + ', "board": ["not", "text"], "title": {"x": 1}, '
        '"messages": [{"push_tag": "推", "push_userid": ' + big + ', "push_content": "好\\ud800吃"},'
        '{"push_tag": 1, "push_content": ["a list"]}]}',
        encoding="utf-8",
    )
    a = list(parse_json_dump(f))[0]
    assert a.board == "" and a.title == "" and a.article_id == ""
    assert a.pushes[0].user == big and a.pushes[0].content == "好\ufffd吃"
    assert a.pushes[0].content.encode("utf-8")  # writable as UTF-8
    assert (a.pushes[1].tag, a.pushes[1].content) == ("1", "")
    lines = tmp_path / "sep.jsonl"
    lines.write_text(
        "\n".join(
            json.dumps(
                {"article_id": f"M.{i}.A.00{i}", "comments": [{"tag": "推", "content": "前\u2028後"}]},
                ensure_ascii=False,
            )
            for i in (1, 2)
        )
        + "\n",
        encoding="utf-8",
    )
    got = list(parse_json_dump(lines))
    assert [a.article_id for a in got] == ["M.1.A.001", "M.2.A.002"]
    assert got[0].pushes[0].content == "前\u2028後"


def test_parse_hostile_html_quickly():
    """Binary junk, deep nesting and a huge line parse to no comments, without an exception."""
    import time

    t0 = time.monotonic()
    for text in (
        "\x00\xff" * 100_000,
        "<div>" * 50_000,
        "<div class=push>" * 20_000,
        "a" * 5_000_000,
        "<!--" + "x" * 1_000_000,
        "<" * 200_000,
        "&" * 1_000_000,
    ):
        art = parse_article_html(text, source="junk.html")
        assert art.pushes == [] or all(p.tag == "" for p in art.pushes)
        assert parse_index_html(text).entries == []
    assert time.monotonic() - t0 < 60
