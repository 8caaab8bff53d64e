"""python -m textcycle.ptt: one-line errors and usage mistakes, warnings for skipped files, the
Ctrl-C message, and the bundled sample pages through ingest into configs/ptt.yaml."""

import pytest

from textcycle.config import load_config
from textcycle.ptt import __main__ as ptt_cli
from textcycle.ptt.__main__ import main as ptt_main
from textcycle.text.data import load_corpus

from .pages import REPO, article_html, write


def test_cli_ingest_errors_are_one_line(tmp_path, capsys):
    assert ptt_main(["ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: not found") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_sample_pages_become_neg_pos_corpora(tmp_path, capsys, sample_dir):
    sample = sample_dir
    assert len(list(sample.glob("M.*.html"))) == 3
    out = tmp_path / "ptt"
    assert ptt_main(["ingest", str(sample), "--out", str(out), "--neutral"]) == 0
    printed = capsys.readouterr().out
    assert "pushes: 推 11  噓 8  → 5" in printed and "written: neg.txt 7" in printed
    neg = (out / "neg.txt").read_text(encoding="utf-8").splitlines()
    pos = (out / "pos.txt").read_text(encoding="utf-8").splitlines()
    neu = (out / "neu.txt").read_text(encoding="utf-8").splitlines()
    assert len(neg) == 7 and len(pos) == 10 and len(neu) == 3
    assert "上次去等了一個小時，服務又很差老闆還一直催人趕快吃完" in neg  # 噓 + → joined
    assert "推推 食記寫得很清楚" in pos  # link removed
    assert "平日去就不用排啦" in pos  # @mention removed
    assert "寫得好，推這篇" in pos  # the author's id removed
    assert "結局哭爆 QQ" in pos and pos.count("結局哭爆 QQ") == 1  # deduplicated
    assert not any(line == "推" for line in neg)  # too short
    assert not set(neg) & set(pos)
    # ... and configs/ptt.yaml reads what ingest wrote
    cfg = load_config(
        REPO / "configs" / "ptt.yaml",
        overrides=[
            f"data.{k}={out}/{f}"
            for k, f in (
                ("train_0", "neg.txt"),
                ("train_1", "pos.txt"),
                ("dev_0", "neg.dev.txt"),
                ("dev_1", "pos.dev.txt"),
                ("test_0", "neg.test.txt"),
                ("test_1", "pos.test.txt"),
            )
        ],
    )
    corpus = load_corpus(cfg.data)
    assert corpus.language == "zh"
    assert len(corpus.train[0]) + len(corpus.dev[0]) == 7 and len(corpus.train[1]) + len(corpus.dev[1]) == 10


def test_cli_crawl_bad_range(capsys):
    assert ptt_main(["crawl", "--board", "Food", "--pages", "9-3"]) == 2
    assert capsys.readouterr().err.startswith("error: --pages")


def test_cli_ingest_skips_unreadable_files_with_one_line_warnings(tmp_path, capsys):
    raw = tmp_path / "raw"
    write(raw / "M.1.A.001.html", article_html("Food", "M.1.A.001", [("推", "u1", "湯頭很濃，很好喝")]))
    (raw / "deep.json").write_text('{"a":' * 50_000 + "1" + "}" * 50_000, encoding="utf-8")
    (raw / "latin1.json").write_bytes(b'{"title": "caf\xe9"}')
    assert ptt_main(["ingest", str(raw), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"warning: skipped {raw / 'deep.json'}: JSON nested too deeply to read",
        f"warning: skipped {raw / 'latin1.json'}: not UTF-8 text (line 1)",
    ]
    assert (tmp_path / "out" / "pos.txt").read_text(encoding="utf-8") == "湯頭很濃，很好喝\n"


def test_cli_ingest_refuses_out_in_an_input_folder(tmp_path, capsys):
    raw = tmp_path / "raw"
    write(raw / "M.1.A.001.html", article_html("Food", "M.1.A.001", [("推", "u1", "湯頭很濃，很好喝")]))
    assert ptt_main(["ingest", str(raw), "--out", str(raw)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: output folder") and len(err.splitlines()) == 1
    assert sorted(p.name for p in raw.iterdir()) == ["M.1.A.001.html"]


def test_cli_usage_mistakes_are_one_line(capsys):
    for argv in (
        ["crawl", "--board", "Food", "--last", "many"],
        ["crawl", "--board", "Food"],
        ["ingest"],
        ["nonsense"],
        [],
        ["ingest", "x", "--min-chars", "1.5"],
    ):
        with pytest.raises(SystemExit) as e:
            ptt_main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.splitlines()) == 1 and "--help" in err, (argv, err)


def test_cli_crawl_bad_numbers_fail_before_any_request(capsys, monkeypatch):
    monkeypatch.setattr("textcycle.ptt.crawl.urllib_fetch", lambda *a, **k: pytest.fail("fetched"))
    for argv, msg in (
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
        (["--delay", "nan"], "delay"),
        (["--delay", "-1"], "delay"),
        (["--backoff", "inf"], "backoff"),
        (["--retries", "-2"], "retries"),
    ):
        assert ptt_main(["crawl", "--board", "Food", "--pages", "1-2", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and msg in err and len(err.splitlines()) == 1, (argv, err)


def test_cli_ctrl_c_keeps_the_resume_note(tmp_path, capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ptt_cli, "crawl_board", interrupted)
    assert ptt_main(["crawl", "--board", "Food", "--pages", "1-2", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "interrupted; pages saved so far are kept (run again to resume)\n"
