"""The bundled Chinese model: loads offline, is small, changes sentiment, answers in the user's script."""

import json
from pathlib import Path

import pytest
from conftest import rewrite_offline

from textcycle.evaluate.classifier import StyleClassifier
from textcycle.model_folder import PACKAGE_MODELS

REPO = Path(__file__).resolve().parents[1]
BUNDLED = PACKAGE_MODELS / "zh"
ZH_CLASSIFIER = PACKAGE_MODELS / "zh-eval" / "classifier"
MIN_FLIPPED = 16  # measured 19 of 20 (9 + 10) with the bundled model; copying the inputs gives 0
pytestmark = pytest.mark.skipif(not (BUNDLED / "config.json").is_file(), reason="no bundled Chinese model")

NEGATIVE = [
    "这家店的服务很差",
    "菜太难吃了",
    "质量太差了，不推荐",
    "送餐太慢了",
    "房间很脏，隔音也差",
    "客服态度非常差",
    "东西是坏的，很失望",
    "太贵了，不值这个价",
    "再也不会来了",
    "包装破了，差评",
]
POSITIVE = [
    "这家店的服务很好",
    "菜很好吃",
    "质量很好，推荐购买",
    "送餐很快",
    "房间很干净，隔音也好",
    "客服态度非常好",
    "东西很不错，很满意",
    "价格实惠，物超所值",
    "下次还会再来",
    "包装很好，好评",
]


@pytest.fixture(scope="module")
def rw():
    from textcycle.rewrite import Rewriter

    return Rewriter.from_pretrained("zh")


def test_zh_bundle_files_size_and_card():
    names = {p.name for p in BUNDLED.iterdir()}
    assert {
        "config.json",
        "tokenizer.model",
        "generators.safetensors",
        "discriminator.safetensors",
        "README.md",
    } <= names
    assert sum(p.stat().st_size for p in BUNDLED.iterdir()) < 32 * 2**20
    config = json.loads((BUNDLED / "config.json").read_text(encoding="utf-8"))
    assert config["torch_dtype"] == "float16" and config["language"] == "zh"
    card = (BUNDLED / "README.md").read_text(encoding="utf-8")
    assert "language: zh" in card and "copy input" in card and "python -m textcycle.train" in card


def test_zh_model_changes_sentiment(rw):
    """Judged by the separate Chinese evaluation classifier."""
    clf = StyleClassifier.load(ZH_CLASSIFIER)
    to_pos = rw.rewrite(NEGATIVE, to="positive", corpus_form=True)
    to_neg = rw.rewrite(POSITIVE, to="negative", corpus_form=True)
    flipped = sum(p == 1 for p in clf.predict(to_pos, normalized=True)) + sum(
        p == 0 for p in clf.predict(to_neg, normalized=True)
    )
    assert flipped >= MIN_FLIPPED, list(zip(NEGATIVE + POSITIVE, to_pos + to_neg))


def test_zh_model_answers_in_the_users_script(rw):
    from textcycle.text.textnorm import zh_script

    assert rw.script == "simplified"
    out = rw.rewrite("這家店的服務很差，菜也很難吃", to="positive")
    assert out and zh_script([out]) in ("traditional", None), out


def test_zh_rewrite_command_offline():
    r = rewrite_offline("--model", "zh", "這家店的服務很差")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 1 and r.stdout.strip()
