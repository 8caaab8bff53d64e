"""The model shipped inside the package: it loads offline, is small, and really changes sentiment."""

import json
from pathlib import Path

import pytest
from conftest import rewrite_offline

from textcycle.evaluate.classifier import StyleClassifier
from textcycle.evaluate.paths import DEFAULT_CLASSIFIER
from textcycle.model_folder import PACKAGE_MODELS
from textcycle.rewrite import Rewriter

REPO = Path(__file__).resolve().parents[1]
BUNDLED = PACKAGE_MODELS / "yelp"

NEGATIVE = [
    "the food was cold and the waiter was rude .",
    "this is the worst pizza i have ever had .",
    "the service was terrible and slow .",
    "i will never come back here .",
    "the room was dirty and smelled bad .",
    "the staff was unfriendly and unhelpful .",
    "the burger was bland and overpriced .",
    "we waited an hour and nobody cared .",
    "very disappointed with this place .",
    "the coffee was awful .",
]
POSITIVE = [
    "the food was delicious and the staff was friendly .",
    "this is the best pizza in town !",
    "great service and a great atmosphere .",
    "i love this place .",
    "the room was clean and comfortable .",
    "the staff was very helpful .",
    "the burger was amazing and cheap .",
    "highly recommend this restaurant !",
    "we had a wonderful time here .",
    "the coffee is excellent .",
]


@pytest.fixture(scope="module")
def rw():
    return Rewriter.from_pretrained("yelp-small")


def test_bundle_files_and_size():
    names = {p.name for p in BUNDLED.iterdir()}
    assert {
        "config.json",
        "tokenizer.model",
        "generators.safetensors",
        "discriminator.safetensors",
        "README.md",
    } <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    size = sum(p.stat().st_size for p in BUNDLED.iterdir())
    assert size < 32 * 2**20
    assert json.loads((BUNDLED / "config.json").read_text())["torch_dtype"] == "float16"
    card = (BUNDLED / "README.md").read_text()
    assert "python -m textcycle.train" in card and "wall time" in card
    assert "negative -> positive" in card and "positive -> negative" in card  # scores per direction
    assert card.count("\n| ") >= 20 + 3  # twenty samples, the scores rows


def test_bundled_model_changes_sentiment(rw):
    """Judged by the separate evaluation classifier: most clear sentences flip."""
    clf = StyleClassifier.load(DEFAULT_CLASSIFIER)
    to_pos = rw.rewrite(NEGATIVE, to="positive", corpus_form=True)
    to_neg = rw.rewrite(POSITIVE, to="negative", corpus_form=True)
    flipped = sum(p == 1 for p in clf.predict(to_pos, normalized=True)) + sum(
        p == 0 for p in clf.predict(to_neg, normalized=True)
    )
    assert flipped >= 14, list(zip(NEGATIVE + POSITIVE, to_pos + to_neg))


def test_bundled_model_detects_direction(rw):
    rows = rw.rewrite(NEGATIVE[:5] + POSITIVE[:5], details=True)
    detected = [r["detected_style"] for r in rows]
    assert detected[:5].count("negative") >= 4 and detected[5:].count("positive") >= 4


def test_main_command_offline():
    r = rewrite_offline("The food was cold and the waiter was rude.")
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip().splitlines()
    assert len(out) == 1 and out[0] and out[0][0].isupper()


@pytest.mark.data
@pytest.mark.parametrize("engine, outputs", [("torch", "textcycle-yelp"), ("ct2", "textcycle-yelp-ct2")])
def test_bundled_greedy_outputs_are_the_leaderboard_rows(shared_data, engine, outputs):
    """The greedy rows in results/ (plain greedy: no style fallback) come from the shipped model:
    a change to the text handling or an engine that moved them would show here (first 100
    sentences of each direction)."""
    from textcycle.files import read_lines
    from textcycle.rewrite import Rewriter

    rw = Rewriter.from_pretrained("yelp-small", engine=engine, warn=lambda m: None)
    for s, d in ((0, "neg2pos"), (1, "pos2neg")):
        src = read_lines(shared_data / "yelp" / "li2018" / f"sentiment.test.{s}")[:100]
        want = read_lines(Path(__file__).resolve().parents[1] / "results" / "ours" / outputs / f"{d}.txt")[:100]
        assert rw.rewrite(src, to=1 - s, corpus_form=True, style_fallback=False) == want
