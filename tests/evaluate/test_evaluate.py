"""Tests of textcycle.evaluate (the evaluation ruler) and data/download.py.

Unit tests run on small files the tests write. Integration tests (skipped without
../shared/data) reproduce two published checks with the released files and use the bundled
classifier and LM; they never train the bundled models.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NEG_WORDS, POS_WORDS, make_sentences
from conftest import write_lines as _write

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}

from textcycle.errors import TextcycleError  # noqa: E402
from textcycle.evaluate import corpus_bleu, evaluate_system, g_score, harmonic_mean  # noqa: E402
from textcycle.evaluate.bleu import bleu_normalize, zh_bleu, zh_sentence_bleu  # noqa: E402
from textcycle.evaluate.testset import load_testset  # noqa: E402
from textcycle.text.textnorm import opencc_available, yelp_tokenize  # noqa: E402

needs_opencc = pytest.mark.skipif(
    not opencc_available(), reason="OpenCC not installed (pip install opencc-python-reimplemented)"
)


# ---------------------------------------------------------------------------------------------
# small data written by the tests
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy_models(tmp_path_factory) -> dict:
    """A toy classifier and a tiny LM trained in seconds on the conftest toy sentences."""
    import torch

    from textcycle.evaluate.classifier import ClassifierConfig, train_classifier
    from textcycle.evaluate.lm import LMConfig, train_lm

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("toy_models")
    train = [make_sentences(NEG_WORDS, 300, 11), make_sentences(POS_WORDS, 300, 12)]
    clf = train_classifier(train, ClassifierConfig(dim=8, buckets=1024, epochs=4, lr=2e-2), log=lambda m: None)
    clf.save(out / "classifier")
    cfg = LMConfig(
        vocab_size=64,
        n_embd=32,
        n_layer=1,
        n_head=2,
        n_inner=64,
        steps=30,
        warmup_steps=5,
        batch_size=32,
        eval_every=1000,
        max_minutes=1.0,
    )
    lm, _ = train_lm(train[0] + train[1], out / "lm", cfg, log=lambda m: None)
    lm.save(out / "lm")
    return {
        "classifier": out / "classifier",
        "lm": out / "lm",
        "test": [make_sentences(NEG_WORDS, 100, 21), make_sentences(POS_WORDS, 100, 22)],
    }


# ---------------------------------------------------------------------------------------------
# BLEU, G, harmonic mean, normalisation
# ---------------------------------------------------------------------------------------------
def test_bleu_of_identical_text_is_100():
    lines = ["the food was great and the service was friendly .", "i will never come back to this place !"]
    assert corpus_bleu(lines, [lines]) == pytest.approx(100.0)
    assert corpus_bleu(lines, [["something else entirely here ok"] * 2, lines]) == pytest.approx(100.0)


def test_g_and_harmonic_mean_on_hand_computed_numbers():
    assert g_score(90.0, 40.0) == pytest.approx(60.0)  # sqrt(3600)
    assert g_score(64.0, 25.0) == pytest.approx(40.0)
    assert harmonic_mean(90.0, 40.0) == pytest.approx(2 * 90 * 40 / 130)  # 55.3846...
    assert harmonic_mean(50.0, 50.0) == pytest.approx(50.0)
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert g_score(None, 40.0) is None and harmonic_mean(80.0, None) is None


def test_normalisation_puts_natural_text_in_corpus_form():
    # the cased Li et al. reference -> the tokenised form of references4/reference0
    assert (
        bleu_normalize('Had one great meal and said, "we\'ll try again."')
        == "had one great meal and said , `` we 'll try again . ''"
    )
    assert (
        bleu_normalize("Such great service, cannot praise it enough") == "such great service , can not praise it enough"
    )
    # LEWIS-style detokenised spans
    assert bleu_normalize("the food was n't dry.") == "the food was n't dry ."
    assert bleu_normalize("is this the right thing?") == "is this the right thing ?"
    assert bleu_normalize("um...we left") == "um ... we left"
    # digits are kept for BLEU; the classifier/LM form maps numbers to _num_ like the corpus
    assert bleu_normalize("I rate it 5 stars!") == "i rate it 5 stars !"
    assert yelp_tokenize("I rate it 5 stars!") == "i rate it _num_ stars !"


@pytest.mark.parametrize(
    "line",
    [
        "she said `` yes , sorry . ''",
        "think twice -- this place is a dump .",
        "we gave it another 5-10 minutes before we got up and left .",
        "i called at 6:30 and got the complete brush off .",
        "fun place to catch a game on tv and catch up w/ people .",
        "dr. hall is so kind and gentle .",
        "the <unk> was a+ and so-so , 1/2 price .",
        "prices are great , you really ca n't beat 'em .",
    ],
)
def test_normalisation_leaves_corpus_form_unchanged(line):
    assert bleu_normalize(line) == line
    assert bleu_normalize(bleu_normalize(line)) == bleu_normalize(line)


# ---------------------------------------------------------------------------------------------
# classifier and LM on toy data
# ---------------------------------------------------------------------------------------------
def test_classifier_on_toy_sentences_is_accurate_and_round_trips(toy_models):
    from textcycle.evaluate.classifier import StyleClassifier

    clf = StyleClassifier.load(toy_models["classifier"])
    neg, pos = toy_models["test"]
    assert clf.accuracy(neg, 0) >= 95.0
    assert clf.accuracy(pos, 1) >= 95.0
    cfg = json.loads((toy_models["classifier"] / "config.json").read_text())
    assert cfg["model_type"] == "textcycle-fasttext-style-classifier"


def test_missing_models_are_one_line_errors(tmp_path):
    from textcycle.evaluate.classifier import StyleClassifier
    from textcycle.evaluate.lm import LanguageModel

    with pytest.raises(TextcycleError, match="train_classifier"):
        StyleClassifier.load(tmp_path)
    with pytest.raises(TextcycleError, match="train_lm"):
        LanguageModel.load(tmp_path)


def test_evaluate_system_api_and_keys(tiny_yelp, toy_models):
    ts = load_testset(tiny_yelp)
    refs = [ts.refs4[0][0], ts.refs4[1][0]]
    r = evaluate_system(
        refs[0],
        refs[1],
        data_dir=tiny_yelp,
        classifier_dir=toy_models["classifier"],
        lm_dir=toy_models["lm"],
        name="ref0",
    )
    for key in (
        "style_accuracy",
        "bleu_ref1",
        "bleu_ref4",
        "self_bleu",
        "perplexity",
        "g_ref4",
        "bleu_ref4_concat",
        "bleu_ref1_concat",
        "self_bleu_concat",
    ):
        assert key in r
    for d in ("neg2pos", "pos2neg"):
        assert set(r[d]) >= {"style_accuracy", "bleu_ref1", "bleu_ref4", "self_bleu", "perplexity", "g_ref4"}
        assert r[d]["bleu_ref4"] == pytest.approx(100.0)  # reference0 is one of the four references
    assert r["style_accuracy"] >= 90.0
    assert r["bleu_ref1"] == pytest.approx(100.0)  # the Li reference, after normalisation
    assert r["bleu_ref4"] == pytest.approx((r["neg2pos"]["bleu_ref4"] + r["pos2neg"]["bleu_ref4"]) / 2, abs=1e-3)
    assert r["g_ref4"] == pytest.approx(math.sqrt(r["style_accuracy"] * r["bleu_ref4"]), abs=1e-2)
    assert 1.0 < r["perplexity"] < 1000.0
    # copying the input: self-BLEU 100
    c = evaluate_system(
        ts.sources[0],
        ts.sources[1],
        data_dir=tiny_yelp,
        classifier_dir=toy_models["classifier"],
        lm_dir=toy_models["lm"],
    )
    assert c["self_bleu"] == pytest.approx(100.0) and c["style_accuracy"] <= 10.0
    with pytest.raises(TextcycleError, match="neg2pos: has 7 lines, expected 8"):
        evaluate_system(
            refs[0][:-1], refs[1], data_dir=tiny_yelp, classifier_dir=toy_models["classifier"], lm_dir=toy_models["lm"]
        )


def test_cli_json_on_tiny_data(tiny_yelp, toy_models, tmp_path, capsys):
    from textcycle.evaluate.__main__ import main

    ts = load_testset(tiny_yelp)
    sysdir = tmp_path / "mine"
    _write(sysdir / "neg2pos.txt", ts.refs4[0][1])
    _write(sysdir / "pos2neg.txt", ts.refs4[1][1])
    rc = main(
        [
            str(sysdir),
            "--data",
            str(tiny_yelp),
            "--json",
            "--classifier",
            str(toy_models["classifier"]),
            "--lm",
            str(toy_models["lm"]),
        ]
    )
    assert rc == 0
    r = json.loads(capsys.readouterr().out)
    assert r["name"] == "mine" and r["neg2pos"]["bleu_ref4"] == pytest.approx(100.0)
    rc = main([str(sysdir), "--data", str(tiny_yelp), "--classifier", str(toy_models["classifier"]), "--no-lm"])
    out = capsys.readouterr().out
    assert rc == 0 and out.startswith("| System | ACC |") and "| mine |" in out


def test_systems_with_the_same_folder_name_keep_apart(tiny_yelp, toy_models, tmp_path, capsys):
    # bug: runs/a/best and runs/b/best got the same JSON key, and one result vanished
    from textcycle.evaluate.__main__ import main

    ts = load_testset(tiny_yelp)
    for run, outs in (("a", (ts.refs4[0][1], ts.refs4[1][1])), ("b", ts.sources)):
        _write(tmp_path / run / "best" / "neg2pos.txt", outs[0])
        _write(tmp_path / run / "best" / "pos2neg.txt", outs[1])
    dirs = [str(tmp_path / "a" / "best"), str(tmp_path / "b" / "best")]
    assert (
        main([*dirs, "--data", str(tiny_yelp), "--json", "--classifier", str(toy_models["classifier"]), "--no-lm"]) == 0
    )
    r = json.loads(capsys.readouterr().out)
    assert sorted(r) == ["a/best", "b/best"]
    assert r["b/best"]["self_bleu"] == pytest.approx(100.0) and r["a/best"]["self_bleu"] < 100


# ---------------------------------------------------------------------------------------------
# bad input: one line naming the file (and line), non-zero exit, no traceback
# ---------------------------------------------------------------------------------------------
def _bad_system(tiny_yelp: Path, tmp_path: Path, case: str) -> tuple[Path, str]:
    ts = load_testset(tiny_yelp)
    d = tmp_path / f"bad_{case}"
    n2p, p2n = list(ts.refs4[0][1]), list(ts.refs4[1][1])
    if case == "lines":
        n2p = n2p[:-1]
    if case == "empty":
        p2n[2] = "  "
    _write(d / "neg2pos.txt", n2p)
    _write(d / "pos2neg.txt", p2n)
    if case == "utf8":
        data = (d / "pos2neg.txt").read_bytes().split(b"\n")
        data[4] = b"the caf\xe9 was bad"
        (d / "pos2neg.txt").write_bytes(b"\n".join(data))
    if case == "missing":
        (d / "pos2neg.txt").unlink()
    expected = {
        "lines": "neg2pos.txt: has 7 lines, expected 8",
        "empty": "pos2neg.txt: line 3 is empty",
        "utf8": "pos2neg.txt: line 5 is not valid UTF-8",
        "missing": "file not found:",
    }[case]
    return d, expected


@pytest.mark.parametrize("case", ["lines", "empty", "utf8", "missing"])
def test_bad_input_gives_one_line_error(tiny_yelp, tmp_path, case):
    d, expected = _bad_system(tiny_yelp, tmp_path, case)
    p = subprocess.run(
        [PY, "-m", "textcycle.evaluate", str(d), "--data", str(tiny_yelp)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=REPO,
        timeout=120,
    )
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    if case == "missing":
        assert "pos2neg.txt" in lines[0]


def test_missing_system_dir_and_bad_data_dir(tmp_path, tiny_yelp):
    from textcycle.evaluate.__main__ import main

    assert main([str(tmp_path / "nope"), "--data", str(tiny_yelp)]) == 2
    assert main([str(tmp_path), "--data", str(tmp_path / "no_data")]) == 2


# ---------------------------------------------------------------------------------------------
# data/download.py on local files only
# ---------------------------------------------------------------------------------------------
def _load_download():
    import importlib.util

    spec = importlib.util.spec_from_file_location("textcycle_data_download", REPO / "data" / "download.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_download_from_local_mirror(tmp_path):
    dl = _load_download()
    mirror = tmp_path / "mirror"
    for f in dl.file_list(with_train=False, with_outputs=True):
        repo, _ = f["repo"]
        target = mirror / repo / f["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = ["a line of text ."] * 3
        if f["local"].startswith("reference."):
            lines = ["src .\tRef."] * 3
        data = ("\n".join(lines)).encode()  # no final newline, as in some released files
        if f["local"] == "references4/reference2.0":
            data = b"the d\xa8\xa6cor was really beautiful\n" + data  # GBK bytes, as released
        target.write_bytes(data)
    out = tmp_path / "out"
    p = subprocess.run(
        [
            PY,
            str(REPO / "data" / "download.py"),
            "--out",
            str(out),
            "--from-local",
            str(mirror),
            "--no-train",
            "--with-outputs",
            "--no-verify",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    y = out / "yelp"
    assert (y / "li2018" / "sentiment.test.0").read_text() == "a line of text .\n" * 3
    assert (y / "references4" / "reference2.0").read_text(encoding="utf-8").startswith("the décor was")
    assert (y / "outputs" / "DualRL" / "neg2pos.txt").is_file()
    assert (y / "outputs" / "UnsuperMT_Zhang" / "pos2neg.txt").is_file()
    # with checksums on, the fake files are refused
    p = subprocess.run(
        [
            PY,
            str(REPO / "data" / "download.py"),
            "--out",
            str(tmp_path / "out2"),
            "--from-local",
            str(mirror),
            "--no-train",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 1 and "SHA-256 mismatch" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.data
def test_download_checksums_match_shared_data(shared_data, tmp_path):
    """Mirror the shared files at their repository paths; every pinned SHA-256 must match."""
    dl = _load_download()
    mirror = tmp_path / "mirror"
    for f in dl.file_list(with_train=False, with_outputs=True):
        src = shared_data / "yelp" / f["local"]
        target = mirror / f["repo"][0] / f["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    rep = dl.download(
        tmp_path / "out",
        mirror.resolve().as_uri() + "/{repo}/{path}",
        with_train=False,
        with_outputs=True,
        log=lambda m: None,
    )
    assert len(rep["written"]) == len(dl.file_list(with_train=False, with_outputs=True))
    for local in rep["written"]:
        got = hashlib.sha256((tmp_path / "out" / "yelp" / local).read_bytes()).hexdigest()
        assert got == dl.SHA256[local]


# ---------------------------------------------------------------------------------------------
# integration: the published checks, the bundled classifier, the leaderboard
# ---------------------------------------------------------------------------------------------
def _lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").split("\n")[:-1]


@pytest.mark.data
def test_dualrl_4ref_bleu_reproduces_55_2(shared_data):
    """DualRL's released outputs: 4-reference BLEU 55.2 averaged over the two directions."""
    ts = load_testset(shared_data / "yelp")
    out = shared_data / "yelp" / "outputs" / "DualRL"
    scores = []
    for s, d in enumerate(("neg2pos", "pos2neg")):
        hyp = [bleu_normalize(x) for x in _lines(out / f"{d}.txt")]
        refs = [[bleu_normalize(x) for x in ts.refs4[s][k]] for k in range(4)]
        scores.append(corpus_bleu(hyp, refs))
    assert sum(scores) / 2 == pytest.approx(55.2, abs=0.5)


@pytest.mark.data
def test_copy_input_1ref_bleu_reproduces_31_4(shared_data):
    """Copying the input: BLEU 31.4 against the Li et al. reference over all 1000 sentences."""
    ts = load_testset(shared_data / "yelp")
    hyp = [bleu_normalize(x) for s in (0, 1) for x in ts.sources[s]]
    ref = [bleu_normalize(x) for s in (0, 1) for x in ts.li_refs[s]]
    assert corpus_bleu(hyp, [ref]) == pytest.approx(31.4, abs=0.5)


@pytest.mark.data
def test_bundled_classifier_accuracy_on_li_test_sources(shared_data):
    from textcycle.evaluate.classifier import StyleClassifier
    from textcycle.evaluate.paths import DEFAULT_CLASSIFIER

    ts = load_testset(shared_data / "yelp")
    clf = StyleClassifier.load(DEFAULT_CLASSIFIER)
    acc = (clf.accuracy(ts.sources[0], 0) * 500 + clf.accuracy(ts.sources[1], 1) * 500) / 1000
    assert acc >= 95.0
    size = sum(f.stat().st_size for f in DEFAULT_CLASSIFIER.iterdir())
    assert size < 6e6


@pytest.mark.slow
@pytest.mark.data
def test_leaderboard_scores_every_published_system_copy_and_human(shared_data, tmp_path):
    from textcycle.evaluate.__main__ import main

    out = tmp_path / "lb"
    assert main(["--leaderboard", "--data", str(shared_data / "yelp"), "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "leaderboard.csv").open(encoding="utf-8")))
    # the shared data's systems (16 when the leaderboard was made, 22 since 2026-12-05)
    published = [p for p in (shared_data / "yelp" / "outputs").iterdir() if (p / "neg2pos.txt").is_file()]
    assert len(published) >= 16 and len(rows) == len(published) + 2
    kinds = [r["kind"] for r in rows]
    assert kinds.count("published") == len(published) and "baseline" in kinds and "human" in kinds
    g = [float(r["g_ref4"]) for r in rows]
    assert g == sorted(g, reverse=True)
    res = {r["name"]: r for r in json.loads((out / "leaderboard.json").read_text())}
    assert res["DualRL"]["bleu_ref4"] == pytest.approx(55.2, abs=0.5)
    assert res["Copy input"]["bleu_ref1_concat"] == pytest.approx(31.4, abs=0.5)
    assert res["Copy input"]["self_bleu"] == pytest.approx(100.0)
    assert res["Human"]["bleu_ref1"] is None and res["Human"]["references"]["ref4"] == [
        "references4/reference1",
        "references4/reference2",
        "references4/reference3",
    ]
    assert all(r["perplexity"] and r["perplexity"] > 1 for r in res.values())
    md = (out / "leaderboard.md").read_text()
    assert "| 1 |" in md and "DualRL" in md


# -------------------------------------------------------------------------------------------
# Chinese: BLEU and the classifier with character features
# -------------------------------------------------------------------------------------------
def test_zh_bleu():
    hyps = ["我很喜欢这家店", "送餐太慢了"]
    assert zh_bleu(hyps, hyps) == pytest.approx(100.0)
    assert zh_bleu(["我很 喜欢 这家店"], ["我很喜欢这家店"]) == pytest.approx(100.0)  # spaces ignored
    one = zh_bleu(hyps, ["我很喜欢这家餐厅", "送餐很快"])
    multi = zh_bleu(hyps, [["我很喜欢这家餐厅", "我很喜欢这家店"], ["送餐很快"]])
    assert 0 < one < multi <= 100
    assert zh_sentence_bleu("我很喜欢这家店", "我很喜欢这家店") == pytest.approx(100.0)
    assert zh_sentence_bleu("完全不同", ["我很喜欢这家店"]) < 10
    with pytest.raises(TextcycleError, match="2 hypotheses but 1 references"):
        zh_bleu(hyps, ["x"])


@needs_opencc
def test_zh_bleu_with_conversion():
    assert zh_bleu(["這家店的服務很好"], ["这家店的服务很好"]) < 50
    assert zh_bleu(["這家店的服務很好"], ["这家店的服务很好"], convert="t2s") == pytest.approx(100.0)


def test_evaluation_classifier_on_chinese_characters(tmp_path):
    """The fastText-style evaluation classifier with character features (no word segmentation)."""
    import random

    from textcycle.evaluate.classifier import ClassifierConfig, StyleClassifier, train_classifier

    rng = random.Random(0)
    things = ["服務", "餐點", "房間", "老闆", "咖啡", "價格"]
    neg = ["太差", "很爛", "難吃", "不推薦", "很髒"]
    pos = ["很好", "超棒", "好吃", "推薦", "乾淨"]

    def make(words, n):
        return [f"這家店的{rng.choice(things)}{rng.choice(words)}。" for _ in range(n)]

    train = [make(neg, 200), make(pos, 200)]
    cfg = ClassifierConfig(
        tokenization="zh_chars", epochs=10, min_count=1, buckets=1024, dim=16, batch_size=16, lr=0.05
    )
    clf = train_classifier(train, cfg, log=lambda m: None)
    assert clf.tokens("服務 很好！", normalized=True) == ["服", "務", "很", "好", "！"]
    assert clf.accuracy(make(neg, 50), 0) >= 95 and clf.accuracy(make(pos, 50), 1) >= 95
    clf.save(tmp_path / "clf")
    again = StyleClassifier.load(tmp_path / "clf")
    assert again.cfg.tokenization == "zh_chars"
    assert again.predict(["老闆超棒"]) == clf.predict(["老闆超棒"])
