"""The Rewriter's text handling (with a stand-in engine) and the rewrite command's contract:
one output line per input line, clean errors, no input changed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from textcycle.engines.pieces import SentencePieceTexts
from textcycle.errors import TextcycleError
from textcycle.rewrite import Rewriter, check_decoding, json_line

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
INFO = {"style_names": ["negative", "positive"], "language": "en", "max_length": 24}


class EchoEngine(SentencePieceTexts):
    """Copies its input; calls every input negative (the bundled Yelp vocabulary)."""

    name = "echo"

    def __init__(self, sp, language="en", max_length=24):
        self.sp, self.language, self.max_length = sp, language, max_length
        self.calls = []

    def set_seed(self, seed):
        pass

    def style_logits_ids(self, ids):
        return np.array([[2.0, 0.0, 0.0]] * len(ids))

    def generate_ids(self, ids, to, beam=1, sample=False, temperature=1.0, num_hypotheses=1):
        self.calls.append(len(ids))
        return [[list(s) for _ in range(num_hypotheses)] for s in ids]

    def logprobs_ids(self, src, tgt, generator):
        return np.zeros(len(src))


@pytest.fixture
def echo(bundled_sp):
    return Rewriter(engine=EchoEngine(bundled_sp), info=INFO, warn=lambda m: None)


def rewrite_cli(*args, stdin=b""):
    return subprocess.run(
        [sys.executable, "-m", "textcycle.rewrite", *args],
        input=stdin,
        cwd=REPO,
        env=ENV,
        capture_output=True,
        timeout=300,
    )


def test_numbers_come_back_in_their_places(echo):
    # bug: "6:30" was taken for a number and put where "20" belongs
    out = echo.rewrite("we arrived at 6:30 and paid 20 dollars for cold food .")
    assert out == "We arrived at 6:30 and paid 20 dollars for cold food."


class WarmingEngine(EchoEngine):
    """Rewrites "cold" to "warm"; its greedy rewrite drops every _num_, and so does its beam unless
    `beam_keeps` (then the beam's second hypothesis keeps them)."""

    def __init__(self, sp, beam_keeps: bool):
        super().__init__(sp)
        self.beam_keeps, self.beams = beam_keeps, []

    def style_logits_ids(self, ids):  # "warm" reads positive
        return np.array([[0.0, 2.0, 0.0] if "warm" in t else [2.0, 0.0, 0.0] for t in self.decode(ids)])

    def generate_ids(self, ids, to, beam=1, sample=False, temperature=1.0, num_hypotheses=1):
        self.beams.append(beam)
        out = []
        for text in self.decode(ids):
            warm = text.replace("cold", "warm")
            dropped = " ".join(t for t in warm.split() if t != "_num_")
            hyps = [dropped] + [warm if self.beam_keeps else dropped] * (num_hypotheses - 1)
            out.append(self.encode(hyps))
        return out


def test_a_rewrite_that_loses_a_number_gets_one_from_the_beam(bundled_sp):
    rw = Rewriter(engine=WarmingEngine(bundled_sp, beam_keeps=True), info=INFO, warn=lambda m: None)
    assert rw.rewrite("the soup was cold after 45 minutes at 6:30 .") == "The soup was warm after 45 minutes at 6:30."
    assert rw.engine.beams == [1, 4]  # greedy, then a beam for the piece that lost its numbers
    rw.engine.beams = []
    assert rw.rewrite("the soup was cold .") == "The soup was warm." and rw.engine.beams == [1]


def test_a_piece_no_candidate_keeps_the_numbers_of_stays_as_it_was(bundled_sp):
    rw = Rewriter(engine=WarmingEngine(bundled_sp, beam_keeps=False), info=INFO, warn=lambda m: None)
    out = rw.rewrite("The soup was cold at 6:30. The tea was cold!")
    assert out == "The soup was cold at 6:30. The tea was warm!"  # never a lost or invented number


class LoopingEngine(WarmingEngine):
    """Greedy: "cold" -> "warm warm warm" (a loop); the beam's second hypothesis: "cold" -> "warm"."""

    def __init__(self, sp):
        super().__init__(sp, beam_keeps=True)

    def generate_ids(self, ids, to, beam=1, sample=False, temperature=1.0, num_hypotheses=1):
        self.calls.append(beam)
        looped = [t.replace("cold", "warm warm warm") for t in self.decode(ids)]
        fixed = [t.replace("cold", "warm") for t in self.decode(ids)]
        return [self.encode([lp] + [fx] * (num_hypotheses - 1)) for lp, fx in zip(looped, fixed)]


def test_a_rewrite_stuck_in_a_loop_gets_the_beam_s_candidate(bundled_sp):
    rw = Rewriter(engine=LoopingEngine(bundled_sp), info=INFO, warn=lambda m: None)
    assert rw.rewrite("the soup was cold .") == "The soup was warm." and rw.engine.calls == [1, 4]
    # a repeat the source has is no invented loop
    assert rw.rewrite("the soup was so so so cold .") == "The soup was so so so warm."


class HesitantEngine(WarmingEngine):
    """Greedy copies; the beam's hypotheses: the copy, then "cold" -> "warm" with "Joe's" lost, then
    "cold" -> "warm" (names kept). "warm" reads positive."""

    def generate_ids(self, ids, to, beam=1, sample=False, temperature=1.0, num_hypotheses=1):
        self.beams.append(beam)
        out = []
        for text in self.decode(ids):
            warm = text.replace("cold", "warm")
            hyps = [text, warm.replace("joe 's", "the"), warm][:num_hypotheses] if beam > 1 else [text]
            out.append(self.encode(hyps))
        return out


def test_a_rewrite_not_in_the_target_style_gets_the_first_beam_candidate_that_is(bundled_sp):
    """The style fallback: the greedy copy reads negative, so the beam's candidates come in and
    the first in the target style that keeps the names is taken; without the fallback, the copy."""
    rw = Rewriter(engine=HesitantEngine(bundled_sp, beam_keeps=True), info=INFO, warn=lambda m: None)
    src = "the tea at Joe's was cold ."
    assert rw.rewrite(src) == "The tea at Joe's was warm." and rw.engine.beams == [1, 4]
    rw.engine.beams = []
    assert rw.rewrite(src, style_fallback=False) == "The tea at Joe's was cold." and rw.engine.beams == [1]
    rw.engine.beams = []
    assert rw.rewrite(src, sample=True) == "The tea at Joe's was cold." and rw.engine.beams == [1]


def test_names_come_back_in_their_case(echo):
    assert echo.rewrite("we love Trader Joe's and JFK .") == "We love Trader Joe's and JFK."


def test_direction_and_details(echo):
    d = echo.rewrite("the food was cold", details=True)
    assert d["detected_style"] == "negative" and d["target_style"] == "positive"
    assert d["rewrite"] == "The food was cold" and 0 <= d["style_probability"] <= 1


def test_unreadable_input_comes_back_unchanged_with_a_flag(bundled_sp):
    warnings = []
    rw = Rewriter(engine=EchoEngine(bundled_sp), info=INFO, warn=warnings.append)
    rows = rw.rewrite(["這家店的服務很差", "Очень плохо", "😡😡😡", "the food was cold"], details=True)
    for r in rows[:3]:
        assert r["unchanged"] is True and r["rewrite"] == r["source"] and r["reason"]
    assert "unchanged" not in rows[3]
    assert len(warnings) == 3 and all("unchanged" in w for w in warnings)


def test_decoding_options_are_bounded_and_combinations_refused(echo):
    for kw, msg in (
        ({"beam": 1000}, "--beam"),
        ({"beam": 0}, "--beam"),
        ({"rerank": 0}, "--rerank"),
        ({"temperature": float("nan"), "sample": True}, "temperature"),
        ({"temperature": float("inf"), "sample": True}, "temperature"),
        ({"temperature": 0.0, "sample": True}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"beam": 4, "sample": True}, "do not combine"),
        ({"beam": 4, "rerank": 4}, "do not combine"),
        ({"sample": True, "rerank": 4}, "do not combine"),
    ):
        with pytest.raises(TextcycleError, match=msg):
            echo.rewrite("the food was cold", **kw)
    check_decoding(4, False, 1.0, 1)  # a plain beam is fine


def test_json_lines_escape_line_separators():
    line = json_line({"rewrite": "a\u2028b\u2029c\u0085d"})
    assert len(line.splitlines()) == 1 and json.loads(line)["rewrite"] == "a\u2028b\u2029c\u0085d"


def test_missing_opencc_is_said_once(monkeypatch, bundled_sp):
    from textcycle import rewriter as rewriter_module

    monkeypatch.setattr(rewriter_module, "opencc_available", lambda: False)
    warnings = []
    rw = Rewriter(
        engine=EchoEngine(bundled_sp, language="zh"),
        info={**INFO, "language": "zh", "script": "simplified"},
        warn=warnings.append,
    )
    rw.rewrite(["這家店的服務很差", "服務很好"])
    assert sum("OpenCC" in w for w in warnings) == 1


def test_bundled_names_come_before_folders(tmp_path, monkeypatch):
    from textcycle.model_folder import PACKAGE_MODELS, resolve

    (tmp_path / "yelp").mkdir()  # a stray folder named like the bundled model
    monkeypatch.chdir(tmp_path)
    assert resolve("yelp") == resolve("default") == PACKAGE_MODELS / "yelp-lm"  # the better on dev
    assert resolve("yelp-small") == PACKAGE_MODELS / "yelp"  # the small fast model keeps its own name
    assert resolve("./yelp") == Path("./yelp")
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "final" / "config.json").write_text("{}")
    assert resolve(run) == run / "final"  # a run folder stands for its model


def test_cli_keeps_one_output_line_per_input_line():
    # bug: str.splitlines() split on form feeds, \x1c-\x1e, U+0085, U+2028, U+2029 too
    stdin = (
        "the service\x0cwas slow\nthe staff\u2028was rude\nfood\x1cwas\x1dcold\x1e\n\u0085odd\u2029line\r\n".encode()
    )
    r = rewrite_cli("--quiet", "-", stdin=stdin)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().count("\n") == 4
    r = rewrite_cli("--quiet", "--json", "-", stdin=stdin)
    rows = [json.loads(x) for x in r.stdout.decode().split("\n")[:-1]]
    assert len(rows) == 4 and rows[1]["source"] == "the staff\u2028was rude"


def test_cli_bad_arguments_are_one_line_errors():
    # invalid UTF-8 in an argument, a closed stdout, bad decoding options: no traceback
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "textcycle.rewrite",
            "--model",
            "yelp-small",
            "--engine",
            "torch",
            os.fsdecode(b"food \xff\xfe cold"),
        ],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        timeout=300,
    )
    assert r.returncode == 0 and b"Traceback" not in r.stderr and b"not valid UTF-8" in r.stderr
    assert r.stdout.count(b"\n") == 1
    p = subprocess.run(
        f"{sys.executable} -m textcycle.rewrite --model yelp-small --engine torch --quiet - | head -1",
        shell=True,
        input=b"the food was cold\n" * 300,
        cwd=REPO,
        env=ENV,
        capture_output=True,
        timeout=300,
    )
    assert b"Traceback" not in p.stderr and b"BrokenPipe" not in p.stderr and p.stdout.count(b"\n") == 1
    for args in (
        ["--beam", "1000", "x"],
        ["--sample", "--temperature", "nan", "x"],
        ["--rerank", "4", "--beam", "2", "x"],
    ):
        r = rewrite_cli(*args)
        assert r.returncode == 2 and b"Traceback" not in r.stderr and len(r.stderr.decode().strip().splitlines()) == 1


# ------------------------------------------------------------------ with a tiny trained model


def test_rewriter_api(trained):
    from textcycle.rewrite import Rewriter

    rw = Rewriter.from_pretrained(trained / "final")
    assert rw.style_names == ["negative", "positive"]
    outs = rw.rewrite(["The food was bad.", "The staff is so great!"], to="positive")
    assert len(outs) == 2 and all(isinstance(o, str) for o in outs)
    d = rw.rewrite("the pizza was cold .", details=True)
    assert set(d) == {"source", "detected_style", "target_style", "rewrite", "style_probability"}
    assert d["target_style"] != d["detected_style"]
    assert 0.0 <= d["style_probability"] <= 1.0
    beam = rw.rewrite(["the room was dirty ."], to=1, beam=3)
    assert len(beam) == 1
    with pytest.raises(TextcycleError, match="unknown style"):
        rw.rewrite(["x"], to="formal")


def test_long_input_is_split_not_truncated(trained):
    from textcycle.rewrite import Rewriter
    from textcycle.text.textnorm import model_pieces

    assert model_pieces("a b c d e f g", "en", 3) == ["a b c", "d e f", "g"]
    assert model_pieces("good food . bad service !", "en", 10) == ["good food .", "bad service !"]
    rw = Rewriter.from_pretrained(trained / "final")
    out = rw.rewrite("the food was bad . " * 200, to="positive")
    assert len(out.split()) > 40  # every piece was rewritten


def test_rewrite_cli_order_json_and_stdin(trained):
    r = rewrite_cli("--model", str(trained / "final"), "the food was bad .", "the staff is so great !")
    assert r.returncode == 0, r.stderr.decode()
    assert len(r.stdout.decode().splitlines()) == 2
    r = rewrite_cli(
        "--model",
        str(trained / "final"),
        "--json",
        "-",
        stdin="the room was dirty .\nthis coffee is so tasty !\n".encode(),
    )
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [x["source"] for x in rows] == ["the room was dirty .", "this coffee is so tasty !"]


def test_rewrite_cli_bad_input(trained):
    weird = ["", "   ", "x" * 5000, "great food 😀🍕", "這家店的服務很差", "c'est très bon"]
    r = rewrite_cli("--model", str(trained / "final"), *weird)
    assert r.returncode == 0, r.stderr.decode()
    assert len(r.stdout.decode("utf-8").split("\n")) - 1 == len(weird)
    assert "empty" in r.stderr.decode()
    r = rewrite_cli("--model", str(trained / "final"), "-", stdin=b"the food was bad .\n\xff\xfe broken\n")
    assert r.returncode == 0 and len(r.stdout.decode().splitlines()) == 2
    assert "not valid UTF-8" in r.stderr.decode()


def test_rewrite_cli_missing_and_corrupt_model(trained, tmp_path):
    r = rewrite_cli("--model", str(tmp_path / "nope"), "hello")
    assert r.returncode == 2 and b"model not found" in r.stderr and b"Traceback" not in r.stderr
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained / "final", bad)
    (bad / "generators.safetensors").write_bytes(b"\x00" * 100)  # the fast copy is now stale too
    r = rewrite_cli("--model", str(bad), "hello")
    assert r.returncode == 2 and b"corrupt" in r.stderr and b"Traceback" not in r.stderr
    (bad / "config.json").write_text("{not json")
    r = rewrite_cli("--model", str(bad), "hello")
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    r = rewrite_cli("--model", str(trained / "final"), "--to", "formal", "hello")
    assert r.returncode == 2 and b"unknown style" in r.stderr


# ------------------------------------------------------------------ the engines

BUNDLED_YELP = REPO / "textcycle" / "pretrained" / "yelp"


@pytest.mark.parametrize("model", ["yelp-small", "yelp"])
def test_fast_path_imports_neither_torch_nor_transformers(model):
    """Neither the small model nor, once its fast copy is in the cache, the default LM model."""
    if model == "yelp":  # the first use builds the LM's copy (with torch); the test is the use after
        assert rewrite_cli("--quiet", "--model", model, "x").returncode == 0
    code = (
        f"import sys; from textcycle.rewrite import main; rc = main(['--quiet', '--model', '{model}', "
        "'the food was cold']); sys.stdout.flush(); print('torch' in sys.modules, 'transformers' in sys.modules, rc)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and lines[0].strip() and lines[1].split() == ["False", "False", "0"]


def test_missing_fast_copy_falls_back_to_torch_with_a_note(tmp_path):
    import shutil

    m = tmp_path / "m"
    shutil.copytree(BUNDLED_YELP, m, ignore=shutil.ignore_patterns("ct2"))
    r = rewrite_cli("--model", str(m), "the food was cold")
    assert r.returncode == 0 and r.stdout.count(b"\n") == 1
    notes = [ln for ln in r.stderr.decode().splitlines() if "CTranslate2" in ln]
    assert len(notes) == 1 and "torch" in notes[0]


def test_corrupt_fast_copy_is_one_line_and_exit_2(tmp_path):
    import shutil

    m = tmp_path / "m"
    shutil.copytree(BUNDLED_YELP, m)
    f = m / "ct2" / "to_1" / "model.bin"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncated
    r = rewrite_cli("--model", str(m), "the food was cold")
    err = r.stderr.decode()
    assert r.returncode == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_fast_engine_matches_torch_on_real_sentences(bundled_sp):
    sents = [
        "the food was cold and the waiter was rude .",
        "i love this place , the staff is always friendly !",
        "we waited an hour for our pizza .",
        "best tacos in town , hands down .",
    ]
    fast = Rewriter.from_pretrained("yelp-small", engine="ct2")
    slow = Rewriter.from_pretrained("yelp-small", engine="torch")
    assert fast.engine_name == "ctranslate2" and slow.engine_name == "torch"
    assert fast.rewrite(sents) == slow.rewrite(sents)
    a, b = fast.style_probs(sents), slow.style_probs(sents)
    assert np.allclose(a, b, atol=1e-4)
    fast.rewrite(sents, rerank=4, seed=1)  # reranking runs on both engines
    slow.rewrite(sents, rerank=4, seed=1)


def test_ctrl_c_keeps_what_was_written_and_says_so():
    # bug: Ctrl-C left nothing written and no message; now each chunk is written as it is done
    import signal
    import time

    # Ctrl-C as in a terminal: a shell that starts jobs in the background (`cmd &`, no job
    # control) makes them ignore SIGINT, and a child would inherit that and never see it
    p = subprocess.Popen(
        [sys.executable, "-m", "textcycle.rewrite", "--model", "yelp-small", "--quiet", "--chunk-lines", "2", "-"],
        cwd=REPO,
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    p.stdin.write(b"the food was cold\nthe staff was rude\n")
    p.stdin.flush()  # stdin stays open: the command waits for more after its first chunk
    first = [p.stdout.readline(), p.stdout.readline()]
    assert all(line.endswith(b"\n") and line.strip() for line in first)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130 and b"interrupted" in err and b"Traceback" not in err


def test_symbols_the_vocabulary_lacks_keep_their_place(echo):
    # the English model has no emoji: they skip the model and come back where they were
    assert echo.rewrite("the food was cold 😡") == "The food was cold 😡"
    assert echo.rewrite("😍 great pizza , friendly staff") == "😍 great pizza, friendly staff"
    d = echo.rewrite("great 😍 😍 food !", details=True)
    assert d["rewrite"] == "Great 😍 😍 food!" and "unchanged" not in d
    # only symbols: an unknown letter stays <unk> for the model (and counts as unreadable)
    assert echo.unknown_symbol("😡") and not echo.unknown_symbol("Я") and not echo.unknown_symbol("a")


@pytest.fixture(scope="module", params=["ct2", "torch"])
def zh(request):
    return Rewriter.from_pretrained("zh", engine=request.param, warn=lambda m: None)


def test_zh_emoji_come_back_with_both_engines(zh):
    # bug: "这家店的服务很差😡" came back as "这家店的服务不错。": the emoji was <unk>, the mask
    # token of training, so the model filled it with a word of its own or dropped it
    rows = zh.rewrite(["这家店的服务很差😡", "太好吃了😍😍下次还来", "😡这家店的服务很差", "好吃！👍👍"], details=True)
    assert rows[0]["rewrite"].endswith("😡") and rows[0]["rewrite"].count("😡") == 1, rows[0]
    assert "😍😍" in rows[1]["rewrite"], rows[1]
    assert rows[2]["rewrite"].startswith("😡"), rows[2]
    assert rows[3]["rewrite"].endswith("👍👍"), rows[3]
    assert all(r["detected_style"] is not None and "unchanged" not in r for r in rows)


def test_zh_traditional_input_comes_back_traditional_with_its_emoji(zh):
    from textcycle.text.textnorm import zh_script

    out = zh.rewrite("這家店的服務很差，東西也難吃😡", to="positive")
    assert out.endswith("😡") and zh_script([out]) in ("traditional", None), out


def test_zh_rerank_candidates_keep_the_emoji(zh):
    from textcycle.serve.work import rewrite_batch

    rows = rewrite_batch(zh, ["这家店的服务很差😡", "😡😡"], to=None, rerank=3)
    assert rows[0]["candidates"] and all(c["text"].endswith("😡") for c in rows[0]["candidates"]), rows[0]
    assert rows[0]["rewrite"] == rows[0]["candidates"][0]["text"]
    assert rows[1]["unchanged"] and rows[1]["candidates"] == []
