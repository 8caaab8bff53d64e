"""The bundled PTT Stock model (噓 -> 推 and back): loads offline, is small, has its card, and
changes the style of clear comments as the PTT evaluation classifier judges them."""

import json
from pathlib import Path

import pytest
from conftest import rewrite_offline

from textcycle.evaluate.classifier import StyleClassifier
from textcycle.model_folder import PACKAGE_MODELS

REPO = Path(__file__).resolve().parents[1]
BUNDLED = PACKAGE_MODELS / "ptt"
CLASSIFIER = PACKAGE_MODELS / "ptt-eval" / "classifier"
MIN_FLIPPED = 15  # measured 18 of 20 (10 + 8) with the bundled model; copying the inputs gives 2
pytestmark = pytest.mark.skipif(not (BUNDLED / "config.json").is_file(), reason="no bundled PTT model")

BOO = [  # 噓: mockery and complaint, written for this test
    "垃圾公司 滾啦",
    "又在騙韭菜了",
    "這種爛股誰買誰倒楣",
    "廢文不要佔版面",
    "賠到脫褲 慘",
    "主力出貨 散戶接刀",
    "講那麼多還不是錯了",
    "笑死 根本亂講",
    "爛透了 別再吹了",
    "心得太廢",
]
PUSH = [  # 推: cheer and thanks
    "推 感謝分享",
    "專業 給推",
    "有跟到 感謝大大",
    "太神啦 漲停",
    "分析得很好 推",
    "多空不拘 推一個",
    "謝謝教學 受益良多",
    "賺爛了 感恩",
    "好文推推",
    "支持 加油",
]


@pytest.fixture(scope="module")
def rw():
    from textcycle.rewrite import Rewriter

    return Rewriter.from_pretrained("ptt")


def test_ptt_bundle_files_size_and_card():
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
    assert config["style_names"] == ["噓", "推"] and config["language"] == "zh"
    card = (BUNDLED / "README.md").read_text(encoding="utf-8")
    assert "copy input" in card and "python -m textcycle.train" in card


def test_ptt_model_changes_the_style(rw):
    """Judged by the PTT evaluation classifier, which calls 18 of the 20 inputs, copied, their own style."""
    clf = StyleClassifier.load(CLASSIFIER)
    to_push = rw.rewrite(BOO, to="推", corpus_form=True)
    to_boo = rw.rewrite(PUSH, to="噓", corpus_form=True)
    flipped = sum(p == 1 for p in clf.predict(to_push, normalized=True)) + sum(
        p == 0 for p in clf.predict(to_boo, normalized=True)
    )
    assert flipped >= MIN_FLIPPED, list(zip(BOO + PUSH, to_push + to_boo))


def test_ptt_rewrite_command_offline():
    r = rewrite_offline("--model", "ptt", "--to", "推", "垃圾公司 滾啦")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 1 and r.stdout.strip()
