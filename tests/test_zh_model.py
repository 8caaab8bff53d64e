"""The text model on Chinese: piece-level noise, the model's script, and Traditional/Simplified
round trips in the rewriter, on a tiny Traditional-Chinese corpus the test writes."""
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "configs" / "tiny.yaml")
NEG = ["服務很差", "很難吃", "太貴了", "態度不好", "很髒", "等了很久"]
POS = ["服務很好", "很好吃", "很便宜", "態度親切", "很乾淨", "上菜很快"]
NOUNS = ["這家店", "這間餐廳", "老闆", "外送", "這次", "早餐"]


def _has_opencc() -> bool:
    try:
        import opencc  # noqa: F401
    except ImportError:
        return False
    return True


def write_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 300), ("dev", 40), ("test", 40)):
        for s, words in ((0, NEG), (1, POS)):
            rng = random.Random(10 * s + len(split))
            lines = [f"{rng.choice(NOUNS)}{rng.choice(words)}{rng.choice(['。', '！', '', '啦'])}" for _ in range(n)]
            (root / f"sentiment.{split}.{s}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def zh_trainer(tmp_path_factory):
    from accelerate import Accelerator

    from textcycle.config import TextCycleConfig, load_config
    from textcycle.train import Trainer

    root = tmp_path_factory.mktemp("zh")
    data = write_corpus(root / "data")
    cfg = load_config(TINY, TextCycleConfig, overrides=[f"data.path={data}", "data.language=zh",
                                                       f"train.output_dir={root / 'run'}"])
    return Trainer(cfg, Accelerator(cpu=True))


def test_chinese_noise_works_on_pieces_not_the_whole_sentence(zh_trainer):
    t = zh_trainer
    assert t.piece_units
    ids = t.train_ids[0][0]
    kept = []
    for _ in range(50):
        out = t.noised(ids, 0)
        assert out[-1] == ids[-1]  # still ends with </s>
        kept.append(len(out) - 1)
    # word drop 10% of pieces: most of the sentence survives (whitespace splitting of Chinese
    # would have treated the whole sentence as one word and dropped or kept it all)
    assert sum(kept) / len(kept) >= 0.6 * (len(ids) - 1)
    # the style lexicon is made of pieces of the corpus's style words
    pieces = [t.tok.sp_model.id_to_piece(i) for i in t.lex[0][:20]]
    assert any(any(ch in "差難貴髒久" for ch in p) for p in pieces), pieces


@pytest.mark.skipif(not _has_opencc(), reason="opencc-python-reimplemented not installed (pip install 'textcycle[zh]')")
def test_model_records_script_and_rewriter_answers_in_the_users_script(zh_trainer, tmp_path):
    from textcycle.model import TextCycleModel
    from textcycle.rewrite import Rewriter
    from textcycle.textnorm import zh_script

    model = zh_trainer.model()
    assert model.script == "traditional"
    model.save_pretrained(tmp_path / "m")
    loaded = TextCycleModel.from_pretrained(tmp_path / "m")
    assert loaded.script == "traditional"
    rw = Rewriter(loaded)
    seen = []

    def echo(normalized, to, *args):  # stands in for the generator: shows what the model gets
        seen.extend(normalized)
        return list(normalized)

    rw._transfer = echo
    assert rw.rewrite("这家店服务很差", to="positive") == "这家店服务很差"  # Simplified in, Simplified out
    assert rw.rewrite("這家店服務很差", to="positive") == "這家店服務很差"
    assert seen == ["這家店服務很差", "這家店服務很差"]  # the model always sees its own script
    assert zh_script(seen) == "traditional"


@pytest.mark.skipif(not _has_opencc(), reason="opencc-python-reimplemented not installed (pip install 'textcycle[zh]')")
def test_script_detection_and_conversions():
    from textcycle.textnorm import script_conversions, zh_script

    assert zh_script(["這家店的服務很差"]) == "traditional"
    assert zh_script(["这家店的服务很差"]) == "simplified"
    assert zh_script(["很好", "OK"]) is None  # nothing script-specific
    assert script_conversions("這家店的服務很差", "simplified") == ("t2s", "s2tw")
    assert script_conversions("这家店的服务很差", "traditional") == ("s2tw", "tw2s")
    assert script_conversions("这家店的服务很差", "simplified") == (None, None)
    assert script_conversions("很好", "simplified") == (None, None)
    assert script_conversions("這家店", None) == (None, None)
