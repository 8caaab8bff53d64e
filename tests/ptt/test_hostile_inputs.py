"""`python -m textcycle.ptt ingest|crawl` as a user runs it, on hostile inputs: missing and empty
folders, binary and non-UTF-8 files, deeply nested JSON, huge lines, odd file names, symlink
loops, output folders among the inputs, bad numbers. For every case:

- no traceback on stderr; exit status 0 or 2;
- exit 2 comes with a one-line error (`error: ...`, after at most some `warning: ...` lines);
- no input file changed, and no file outside the output folder changed or appeared.

The crawl cases all fail before any request; the subprocess also gets a proxy that goes nowhere,
so a case that did reach the network would fail instead of using it.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .pages import REPO, article_html, index_html

GOOD_PUSHES = [("推", "u1", "湯頭很濃，很好喝"), ("噓", "u2", "等了一個小時才吃到")]


def good(folder: Path, aid="M.1.A.001") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{aid}.html").write_text(article_html("Food", aid, GOOD_PUSHES), encoding="utf-8")


def deep_json(levels=100_000) -> str:
    return "[" * levels + "]" * levels


# Each case builds its inputs under `w` (the test's folder, also the working directory) and returns
# (arguments after `python -m textcycle.ptt`, the output folder, the exit statuses it may end with).


def ingest_missing_folder(w):
    return ["ingest", str(w / "nope"), "--out", str(w / "out")], w / "out", {2}


def ingest_empty_folder(w):
    (w / "raw").mkdir()
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {2}


def ingest_only_index_pages(w):
    (w / "raw").mkdir()
    (w / "raw" / "index7.html").write_text(index_html("Food", 7, ["M.1.A.001"]), encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {2}


def ingest_binary_html(w):
    (w / "raw").mkdir()
    (w / "raw" / "M.1.A.001.html").write_bytes(bytes(range(256)) * 4000)
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {2}


def ingest_binary_html_beside_a_good_page(w):
    good(w / "raw")
    (w / "raw" / "M.2.A.002.html").write_bytes(os.urandom(200_000))
    (w / "raw" / "photo.json").write_bytes(os.urandom(50_000))
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def ingest_non_utf8_html(w):
    (w / "raw").mkdir()
    page = article_html("Food", "M.1.A.001", GOOD_PUSHES).replace('charset="utf-8"', 'charset="big5"')
    (w / "raw" / "M.1.A.001.html").write_bytes(page.encode("big5", errors="replace"))
    good(w / "raw", "M.2.A.002")
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def ingest_deep_json_alone(w):
    (w / "raw").mkdir()
    (w / "raw" / "deep.json").write_text(deep_json(), encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {2}


def ingest_deep_json_and_jsonl_beside_a_good_page(w):
    good(w / "raw")
    (w / "raw" / "deep.json").write_text('{"articles": ' * 60_000 + "1" + "}" * 60_000, encoding="utf-8")
    (w / "raw" / "deep.jsonl").write_text('{"messages": []}\n' + deep_json() + "\n", encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def ingest_non_utf8_json(w):
    good(w / "raw")
    dump = {"articles": [{"article_id": "M.5.A.005", "messages": [{"push_tag": "推", "push_content": "好吃好吃好吃"}]}]}
    (w / "raw" / "big5.json").write_bytes(json.dumps(dump, ensure_ascii=False).encode("big5"))
    (w / "raw" / "utf16.json").write_bytes(json.dumps(dump, ensure_ascii=False).encode("utf-16"))
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def ingest_odd_json_values(w):
    (w / "raw").mkdir()
    big = "9" * 6000
    (w / "raw" / "odd.json").write_text(
        '{"article_id": ' + big + ', "board": {"x": [1]}, "messages": ['
        '{"push_tag": "推", "push_userid": ' + big + ', "push_content": "好\\ud800吃好吃好吃"},'
        '{"push_tag": "噓", "push_userid": null, "push_content": "難吃難吃\\udfff難吃"},'
        '{"push_tag": ["推"], "push_content": {"a": 1}}, 7, null, "x"]}',
        encoding="utf-8",
    )
    for name, text in (
        ("empty.json", ""),
        ("null.json", "null"),
        ("num.json", "42"),
        ("list.json", "[[], 1, {}]"),
        ("str.json", '"just a string"'),
        ("nan.json", '{"messages": NaN}'),
        ("bom.json", "\ufeff{}"),
    ):
        (w / "raw" / name).write_text(text, encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "out"), "--holdout", "0"], w / "out", {0}


def ingest_huge_lines(w):
    (w / "raw").mkdir()
    huge_push = ("推", "u9", "長" * 3_000_000)
    (w / "raw" / "M.1.A.001.html").write_text(
        article_html("Food", "M.1.A.001", GOOD_PUSHES + [huge_push]).replace("\n", " ") + "x" * 2_000_000,
        encoding="utf-8",
    )
    dump = {
        "messages": [{"push_tag": "噓", "push_content": "爛" * 3_000_000}, {"push_tag": "推", "push_content": "好"}]
    }
    (w / "raw" / "big.json").write_text(json.dumps(dump, ensure_ascii=False), encoding="utf-8")
    (w / "raw" / "nolf.jsonl").write_text("{" * 3 + "x" * 3_000_000, encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def ingest_deeply_nested_html(w):
    (w / "raw").mkdir()
    page = article_html("Food", "M.1.A.001", GOOD_PUSHES)
    (w / "raw" / "M.1.A.001.html").write_text(page.replace("內文第一行", "<div><span>" * 100_000), encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0, 2}


def ingest_out_is_the_input_folder(w):
    good(w / "raw")
    (w / "raw" / "neg.txt").write_text("the user's own file\n", encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "raw")], w / "raw", {2}


def ingest_out_is_the_input_folder_relative(w):
    good(w / "raw")
    return ["ingest", "raw", "--out", "./raw/../raw/"], w / "raw", {2}


def ingest_out_inside_the_input_folder(w):
    good(w / "raw")
    return ["ingest", str(w / "raw"), "--out", str(w / "raw" / "corpus")], w / "raw" / "corpus", {2}


def ingest_out_is_a_symlink_to_the_input_folder(w):
    good(w / "raw")
    (w / "link").symlink_to(w / "raw", target_is_directory=True)
    return ["ingest", str(w / "raw"), "--out", str(w / "link")], w / "link", {2}


def ingest_input_is_an_output_file(w):
    good(w / "raw")
    (w / "out").mkdir()
    (w / "out" / "ingest.json").write_text(json.dumps({"messages": []}), encoding="utf-8")
    return ["ingest", str(w / "raw"), str(w / "out" / "ingest.json"), "--out", str(w / "out")], w / "out", {2}


def ingest_out_is_a_file(w):
    good(w / "raw")
    (w / "out").write_text("not a folder", encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {2}


def ingest_out_under_a_file(w):
    good(w / "raw")
    (w / "afile").write_text("not a folder", encoding="utf-8")
    return ["ingest", str(w / "raw"), "--out", str(w / "afile" / "out")], w / "afile" / "out", {2}


def ingest_output_name_taken_by_a_folder(w):
    good(w / "raw")
    (w / "out" / "neg.txt").mkdir(parents=True)
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {2}


def ingest_default_out_in_the_working_folder(w):
    good(w / "raw")
    return ["ingest", "raw"], w / "data" / "ptt", {0}


def ingest_odd_file_names(w):
    good(w / "raw")
    (w / "raw" / "new\nline.json").write_text(deep_json(), encoding="utf-8")
    (w / "raw" / os.fsdecode(b"latin1-\xe9.json")).write_bytes(b'{"title": "caf\xe9"}')
    (w / "raw" / "-rf.html").write_text("<html>", encoding="utf-8")
    (w / "raw" / "folder.json").mkdir()  # a folder with an input's name
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def ingest_symlink_loops_and_dangling_links(w):
    good(w / "raw")
    (w / "raw" / "a.json").symlink_to(w / "raw" / "b.json")
    (w / "raw" / "b.json").symlink_to(w / "raw" / "a.json")
    (w / "raw" / "gone.html").symlink_to(w / "nowhere.html")
    (w / "raw" / "up").symlink_to(w / "raw", target_is_directory=True)
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def ingest_symlink_loop_as_input(w):
    (w / "a").symlink_to(w / "b")
    (w / "b").symlink_to(w / "a")
    return ["ingest", str(w / "a"), "--out", str(w / "out")], w / "out", {2}


def ingest_fifo_and_device(w):
    good(w / "raw")
    os.mkfifo(w / "raw" / "M.9.A.009.html")  # reading it would block forever
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def ingest_device_as_input(w):
    return ["ingest", os.devnull, "--out", str(w / "out")], w / "out", {2}


def ingest_bad_numbers(w):
    good(w / "raw")
    return ["ingest", str(w / "raw"), "--out", str(w / "out"), "--holdout-max-fraction", "nan"], w / "out", {2}


def ingest_bad_lengths(w):
    good(w / "raw")
    return ["ingest", str(w / "raw"), "--out", str(w / "out"), "--min-chars", "0"], w / "out", {2}


def ingest_not_a_number(w):
    good(w / "raw")
    return ["ingest", str(w / "raw"), "--out", str(w / "out"), "--max-chars", "lots"], w / "out", {2}


def ingest_unknown_conversion(w):
    good(w / "raw")
    return ["ingest", str(w / "raw"), "--out", str(w / "out"), "--convert", "../../etc/passwd"], w / "out", {2}


def ingest_unreadable_file(w):
    good(w / "raw")
    secret = w / "raw" / "M.2.A.002.html"
    secret.write_text(article_html("Food", "M.2.A.002", GOOD_PUSHES), encoding="utf-8")
    secret.chmod(0)  # no effect when the tests run as root: then it is simply read
    return ["ingest", str(w / "raw"), "--out", str(w / "out")], w / "out", {0}


def crawl(*argv):
    def case(w):
        return ["crawl", *argv, "--out", str(w / "rawout")], w / "rawout", {2}

    case.__name__ = "crawl " + " ".join(argv)
    return case


CASES = [
    ingest_missing_folder,
    ingest_empty_folder,
    ingest_only_index_pages,
    ingest_binary_html,
    ingest_binary_html_beside_a_good_page,
    ingest_non_utf8_html,
    ingest_deep_json_alone,
    ingest_deep_json_and_jsonl_beside_a_good_page,
    ingest_non_utf8_json,
    ingest_odd_json_values,
    ingest_huge_lines,
    ingest_deeply_nested_html,
    ingest_out_is_the_input_folder,
    ingest_out_is_the_input_folder_relative,
    ingest_out_inside_the_input_folder,
    ingest_out_is_a_symlink_to_the_input_folder,
    ingest_input_is_an_output_file,
    ingest_out_is_a_file,
    ingest_out_under_a_file,
    ingest_output_name_taken_by_a_folder,
    ingest_default_out_in_the_working_folder,
    ingest_odd_file_names,
    ingest_symlink_loops_and_dangling_links,
    ingest_symlink_loop_as_input,
    ingest_fifo_and_device,
    ingest_device_as_input,
    ingest_bad_numbers,
    ingest_bad_lengths,
    ingest_not_a_number,
    ingest_unknown_conversion,
    ingest_unreadable_file,
    crawl("--board", "Food", "--pages", "9-3"),
    crawl("--board", "Food", "--pages", "0-2"),
    crawl("--board", "Food", "--pages", "abc"),
    crawl("--board", "Food", "--pages", ""),
    crawl("--board", "Food", "--pages", "-5"),
    crawl("--board", "Food", "--pages", "1-2-3"),
    crawl("--board", "Food", "--pages", "１-２"),
    crawl("--board", "Food", "--last", "0"),
    crawl("--board", "Food", "--last", "-3"),
    crawl("--board", "Food", "--last", "x"),
    crawl("--board", "Food"),
    crawl("--board", "Food", "--pages", "1-2", "--last", "2"),
    crawl("--board", "../etc", "--pages", "1-2"),
    crawl("--board", "", "--pages", "1-2"),
    crawl("--board", "a/b", "--pages", "1-2"),
    crawl("--board", "x" * 300, "--pages", "1-2"),
    crawl("--board", "Food\n", "--pages", "1-2"),
    crawl("--board", "Food?x=1#", "--last", "1"),
    crawl("--board", "Food", "--pages", "1-2", "--delay", "nan"),
    crawl("--board", "Food", "--pages", "1-2", "--delay", "-1"),
    crawl("--board", "Food", "--pages", "1-2", "--backoff", "inf"),
    crawl("--board", "Food", "--pages", "1-2", "--retries", "-1"),
    crawl("--board", "Food", "--pages", "1-2", "--timeout", "0"),
    crawl("--board", "Food", "--pages", "1-2", "--timeout", "-inf"),
]


def digest(root: Path) -> dict:
    """{path: sha256 (or the link target, or "fifo")} of everything under `root`, links not followed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                out[p] = "link -> " + os.readlink(p)
            elif p.is_fifo():
                out[p] = "fifo"
            elif p.is_file():
                try:
                    out[p] = hashlib.sha256(p.read_bytes()).hexdigest()
                except PermissionError:
                    out[p] = "unreadable"
            elif p.is_dir():
                out[p] = "dir"
    return out


def inside(p: Path, folder: Path) -> bool:
    return p == folder or folder in p.parents


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_hostile_input(tmp_path, case):
    w = tmp_path / "w"
    w.mkdir()
    argv, out, statuses = case(w)
    before = digest(w)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        PYTHONPATH=str(REPO),
        HF_HUB_OFFLINE="1",
        https_proxy="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        no_proxy="",
    )
    r = subprocess.run(
        [sys.executable, "-m", "textcycle.ptt", *argv],
        cwd=w,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=240,
    )
    err = r.stderr
    assert "Traceback" not in err, err[-3000:]
    assert r.returncode in statuses, (r.returncode, err[-2000:], r.stdout[-2000:])
    lines = err.splitlines()
    if r.returncode == 2:
        assert lines and lines[-1].startswith("error: "), err[-2000:]
        assert all(line.startswith("warning: ") for line in lines[:-1]), err[-2000:]
    else:
        assert all(line.startswith("warning: ") for line in lines), err[-2000:]
        assert (out / "neg.txt").is_file() and (out / "pos.txt").is_file() and (out / "ingest.json").is_file()
        for f in out.glob("*.txt"):
            f.read_bytes().decode("utf-8")  # valid UTF-8
    after = digest(w)
    # no input (nor anything else outside the output folder) changed, appeared or went away;
    # only the output folder's parents may have been made
    made = {p for p in after.keys() - before.keys() if p in out.parents and after[p] == "dir"}
    assert {p: h for p, h in after.items() if not inside(p, out) and p not in made} == {
        p: h for p, h in before.items() if not inside(p, out)
    }
    # inside the output folder, files that were there before are unchanged unless ingest wrote them
    for p, h in before.items():
        if inside(p, out) and p.name not in (
            "neg.txt",
            "pos.txt",
            "neg.dev.txt",
            "pos.dev.txt",
            "neg.test.txt",
            "pos.test.txt",
            "neu.txt",
            "ingest.json",
        ):
            assert after.get(p) == h, p
    if r.returncode == 2:  # a refusal writes nothing at all
        assert after == before
