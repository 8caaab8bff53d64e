"""PTT ingest: joining and cleaning comments, the corpus files, the hold-out by article, files
that cannot be read (skipped with a warning), and output folders that would mix with the inputs."""

import json

import pytest

from textcycle.errors import TextcycleError
from textcycle.ptt.ingest import IngestOptions, IngestStats, _id_pattern, article_comments, clean_comment, ingest
from textcycle.ptt.parse import Article, Push

from .pages import OVER18_PAGE, article_html, index_html, write


def art(*pushes, author="writer01 (作者)"):
    return Article(
        article_id="M.1.A.001", board="T", author=author, pushes=[Push(tag=t, user=u, content=c) for t, u, c in pushes]
    )


def test_continuation_lines_are_joined():
    a = art(
        ("噓", "u1", "劇情拖太長了，演員"),
        ("→", "u1", "也很尷尬"),
        ("→", "u1", "浪費錢"),
        ("推", "u2", "配樂很棒"),
        ("推", "u2", "看完想再看一次"),
        ("推", "u3", "我覺得"),
        ("噓", "u3", "不好看"),  # another tag: a new comment
        ("→", "u4", "路過"),
        ("→", "u5", "路過2"),  # other users: not joined
        ("推", "u6", "I like the"),
        ("→", "u6", "music a lot"),  # Latin words keep a space
        ("推", "u7", "前半"),
        ("?", "x", "奇怪"),
        ("→", "u7", "後半"),
    )  # odd line breaks the chain
    stats = IngestStats()
    got = article_comments(a, IngestOptions(), stats)
    assert got == [
        ("噓", "劇情拖太長了，演員也很尷尬浪費錢"),
        ("推", "配樂很棒看完想再看一次"),
        ("推", "我覺得"),
        ("噓", "不好看"),
        ("→", "路過"),
        ("→", "路過2"),
        ("推", "I like the music a lot"),
        ("推", "前半"),
        ("→", "後半"),
    ]
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
    assert clean_comment("KAREN 說的對", ids, None) == "說的對"  # ids are case-insensitive
    assert clean_comment("bob 太短不刪", ids, None) == "bob 太短不刪"  # 3 letters, no digit: kept
    assert clean_comment("kareninfo 不是帳號", ids, None) == "kareninfo 不是帳號"  # whole words only
    assert clean_comment("好吃!", None, None) == "好吃！"


def test_ingest_writes_neg_pos_neu(tmp_path):
    write(
        tmp_path / "raw" / "M.1.A.001.html",
        article_html(
            "Food",
            "M.1.A.001",
            [
                ("推", "u1", "湯頭很濃，很好喝"),
                ("噓", "u2", "上次去等了一個小時"),
                ("→", "u2", "服務又很差"),
                ("推", "u3", "推"),
                ("噓", "u4", "https://example.com/only-a-link"),
                ("推", "u5", "普通普通啦"),
                ("噓", "u6", "普通普通啦"),
                ("→", "u7", "價位有點高喔"),
                ("推", "u8", "湯頭很濃，很好喝"),
                ("推", "u9", "好" * 100),
            ],
        ),
    )
    # the same article again (a second copy on disk) and a page without comments
    write(
        tmp_path / "raw" / "copy" / "M.1.A.001.html",
        article_html("Food", "M.1.A.001", [("推", "z", "不該出現的第二份")]),
    )
    write(tmp_path / "raw" / "M.2.A.002.html", article_html("Food", "M.2.A.002", []))
    write(tmp_path / "raw" / "index5.html", index_html("Food", 5, ["M.1.A.001"]))  # skipped
    out = tmp_path / "out"
    stats = ingest([tmp_path / "raw"], out, IngestOptions(neutral=True, holdout=0))

    def read(n):
        return (out / n).read_text(encoding="utf-8").splitlines()

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

    def article(line):
        return line.split("篇")[0]

    for name in ("neg", "pos"):
        train = (out / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        dev = (out / f"{name}.dev.txt").read_text(encoding="utf-8").splitlines()
        test = (out / f"{name}.test.txt").read_text(encoding="utf-8").splitlines()
        assert len(dev) == 5 and len(test) == 5 and len(train) >= 120 - 2 * 6
        assert not {article(line) for line in train} & {article(line) for line in dev + test}
        assert not {article(line) for line in dev} & {article(line) for line in test}
        assert stats.written[f"{name}.dev.txt"] == 5


def test_ingest_json_and_conversion(tmp_path):
    pytest.importorskip("opencc")
    dump = {
        "articles": [
            {
                "article_id": "M.9.A.009",
                "board": "movie",
                "messages": [
                    {
                        "push_tag": "推",
                        "push_userid": "a1",
                        "push_content": "這部電影的音樂很好聽",
                        "push_ipdatetime": "",
                    },
                    {"push_tag": "噓", "push_userid": "a2", "push_content": "劇本寫得很爛", "push_ipdatetime": ""},
                ],
            }
        ]
    }
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


def good_article(folder, aid="M.1.A.001"):
    return write(
        folder / f"{aid}.html",
        article_html("Food", aid, [("推", "u1", "湯頭很濃，很好喝"), ("噓", "u2", "等了一個小時才吃到")]),
    )


def test_ingest_skips_unreadable_files_with_a_warning(tmp_path):
    raw = tmp_path / "raw"
    good_article(raw)
    (raw / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (raw / "big5.json").write_bytes('{"messages": [{"push_tag": "推", "push_content": "好吃"}]}'.encode("big5"))
    (raw / "broken.json").write_text('{"articles": [', encoding="utf-8")
    (raw / "lines.jsonl").write_bytes(b'{"comments": []}\n\xff\xfe\n')
    warnings = []
    stats = ingest([raw], tmp_path / "out", IngestOptions(holdout=0), warn=warnings.append)
    assert (tmp_path / "out" / "pos.txt").read_text(encoding="utf-8") == "湯頭很濃，很好喝\n"
    assert (tmp_path / "out" / "neg.txt").read_text(encoding="utf-8") == "等了一個小時才吃到\n"
    assert stats.files == 5 and stats.articles == 1 and len(stats.skipped) == 4
    assert len(warnings) == 4 and all("\n" not in w and w.startswith("skipped ") for w in warnings)
    by_name = {w.split(":")[0].rsplit("/", 1)[-1]: w for w in warnings}
    assert "nested too deeply" in by_name["deep.json"]
    assert "not UTF-8 text (line 1)" in by_name["big5.json"]
    assert "not valid JSON" in by_name["broken.json"]
    assert "not UTF-8 text (line 2)" in by_name["lines.jsonl"]
    assert "4 unreadable file(s) skipped" in stats.summary()
    info = json.loads((tmp_path / "out" / "ingest.json").read_text(encoding="utf-8"))
    assert len(info["stats"]["skipped"]) == 4
    # only unreadable files: the usual "no comments" error, which counts them
    with pytest.raises(TextcycleError, match=r"no 推/噓 comments found in 1 file\(s\).*1 unreadable"):
        ingest([raw / "deep.json"], tmp_path / "out2", warn=warnings.append)


def test_ingest_refuses_an_output_folder_among_the_inputs(tmp_path):
    raw = tmp_path / "raw"
    good_article(raw)
    (raw / "notes").mkdir()
    (raw / "neg.txt").write_text("my own notes, not ingest's\n", encoding="utf-8")
    before = sorted((p, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    for out in (raw, raw / "notes", raw / "new" / "deeper", tmp_path / "link"):
        if out.name == "link":
            out.symlink_to(raw, target_is_directory=True)
        with pytest.raises(TextcycleError, match="output folder .* (is|is inside) the input folder"):
            ingest([raw], out)
    # an input file that ingest would overwrite
    (tmp_path / "prev").mkdir()
    (tmp_path / "prev" / "ingest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(TextcycleError, match="is one of the files ingest writes"):
        ingest([raw / "M.1.A.001.html", tmp_path / "prev" / "ingest.json"], tmp_path / "prev")
    # the output folder is a file
    with pytest.raises(TextcycleError, match="is a file, not a folder"):
        ingest([raw], raw / "M.1.A.001.html")
    after = sorted((p, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    assert after == sorted(before + [(tmp_path / "prev" / "ingest.json", b"{}")])  # nothing written
    assert not (raw / "new").exists()
    # beside the inputs, or around them, is fine
    ingest([raw], tmp_path / "corpus", IngestOptions(holdout=0))
    ingest([raw], tmp_path, IngestOptions(holdout=0))
    assert (tmp_path / "pos.txt").is_file() and (raw / "neg.txt").read_text(encoding="utf-8").startswith("my own")


def test_ingest_write_errors_and_bad_options_are_textcycle_errors(tmp_path):
    raw = tmp_path / "raw"
    good_article(raw)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    with pytest.raises(TextcycleError, match="cannot write .*afile"):
        ingest([raw], tmp_path / "afile" / "out", IngestOptions(holdout=0))
    for frac in (float("nan"), -0.1, 1.5):
        with pytest.raises(TextcycleError, match="holdout_max_fraction"):
            ingest([raw], tmp_path / "out", IngestOptions(holdout_max_fraction=frac))


def test_ingest_recovers_a_broken_crawler_dump_line_by_line(tmp_path):
    """jwlin/ptt-web-crawler writes one article per line; two real Stock dumps end in a trailing
    comma before ']}', and a crash can cut a line. The readable lines are kept, the loss counted."""

    def line(aid, tag, text):
        return json.dumps(
            {
                "article_id": aid,
                "board": "Stock",
                "messages": [
                    {"push_tag": tag, "push_userid": "u" + aid[-1], "push_content": text, "push_ipdatetime": ""}
                ],
            },
            ensure_ascii=False,
        )

    raw = tmp_path / "raw"
    raw.mkdir()
    text = (
        '{"articles": ['
        + line("M.1.A.001", "推", "這支股票會漲到一百")
        + ",\n"
        + line("M.2.A.002", "噓", "韭菜又被割了一輪")
        + ",\n"
        + line("M.3.A.003", "推", "這一行被切斷")[:-20]
        + ",\n"  # a cut line: lost
        + line("M.4.A.004", "推", "歐印台積電 2330")
        + ",\n"  # trailing comma before ]}
        + "]}"
    )
    (raw / "Stock-1-1.json").write_text(text, encoding="utf-8")
    warnings = []
    stats = ingest([raw], tmp_path / "out", IngestOptions(holdout=0), warn=warnings.append)
    assert stats.articles == 3 and not stats.skipped
    assert len(stats.recovered) == 1 and "read 3 article(s) line by line, 1 line(s) lost" in stats.recovered[0]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "1 line(s) lost" in warnings[0]
    assert "1 broken dump(s) read line by line" in stats.summary()
    pos = (tmp_path / "out" / "pos.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(pos) == sorted(["這支股票會漲到一百", "歐印台積電 2330"])
    assert (tmp_path / "out" / "neg.txt").read_text(encoding="utf-8") == "韭菜又被割了一輪\n"
    # a dump where no line can be read is still skipped whole
    (raw / "Stock-1-1.json").write_text('{"articles": [oops,\n]}', encoding="utf-8")
    with pytest.raises(TextcycleError, match="no 推/噓 comments"):
        ingest([raw], tmp_path / "out2", IngestOptions(holdout=0), warn=warnings.append)
    assert "not valid JSON" in warnings[-1]
