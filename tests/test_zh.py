"""Chinese text: normalisation, OpenCC conversion, sentence splitting, the review loader, BLEU."""
import re
import sys
from pathlib import Path

import pytest

from textcycle import textnorm
from textcycle.config import DataConfig, load_config
from textcycle.data import (LOADERS, ReviewStats, load_corpus, load_zh_reviews, main as zh_main,
                            review_to_sentences, split_sentences)
from textcycle.evaluate.bleu import zh_bleu, zh_sentence_bleu
from textcycle.errors import TextcycleError
from textcycle.textnorm import denormalize, normalize, zh_convert, zh_normalize

REPO = Path(__file__).resolve().parents[1]


def _has_opencc() -> bool:
    try:
        import opencc  # noqa: F401
    except ImportError:
        return False
    return True


needs_opencc = pytest.mark.skipif(
    not _has_opencc(),
    reason="opencc-python-reimplemented not installed (pip install 'textcycle[zh]')",
)


# --- zh_normalize -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("好吃!!!!!下次再來", "好吃！！！下次再來"),            # ASCII ! in Chinese context, run cut to 3
    ("ｉＰｈｏｎｅ１２ 很好用 ，推！", "iPhone12 很好用，推！"),  # full-width letters/digits folded
    ("用 iPhone 12 Pro 拍的", "用 iPhone 12 Pro 拍的"),       # spaces between words stay
    ("太鹹了吧   根本吃不下去", "太鹹了吧 根本吃不下去"),      # PTT-style separator folded to one
    ("价格12.5元,还行", "价格12.5元，还行"),                  # decimals stay, comma widened
    ("设施非常陈旧.建议改善.", "设施非常陈旧。建议改善。"),      # "." after CJK ends the sentence
    ("10:30 送到,太慢了...", "10:30 送到，太慢了……"),          # time stays, ellipsis
    ("。。。无语", "……无语"),
    ("原因:送餐慢;态度差", "原因：送餐慢；态度差"),
    ("(附图)很好", "（附图）很好"),
    ("great, really good!", "great, really good!"),          # English untouched
    ("他说 “好” 。", "他说“好”。"),                           # no spaces next to CJK punctuation
    ("\ufeff\u3000全形空白\u200b测试\u3000", "全形空白 测试"),  # BOM, ideographic space, zero width
    ("好吃 😋😋😋😋😋 ❤️", "好吃😋😋😋❤"),                      # emoji kept, VS16 dropped, run cut
    ("太好了&hellip;&#183;", "太好了……·"),                   # HTML entities of scraped reviews
    ("A，B", "A,B"),                                         # full-width comma between Latin letters
    ("", ""),
])
def test_zh_normalize(raw, expected):
    assert zh_normalize(raw) == expected
    assert zh_normalize(expected) == expected  # idempotent


def test_zh_normalize_emoji_drop_and_bad_option():
    assert zh_normalize("好吃 😋👍🏽 推", emoji="drop") == "好吃 推"
    with pytest.raises(ValueError):
        zh_normalize("x", emoji="maybe")


def test_normalize_dispatch_and_denormalize():
    assert normalize("好吃!", "zh") == "好吃！"
    assert normalize("Good!", "en") == "good !"
    assert denormalize("真的  很扯 ！ XD", "zh") == "真的 很扯！XD"
    assert denormalize("iPhone 12 很好", "zh") == "iPhone 12 很好"


# --- OpenCC -------------------------------------------------------------------------------------

@needs_opencc
def test_zh_convert_directions():
    assert zh_convert("這個軟體很好用", "t2s") == "这个软体很好用"
    assert zh_convert("这个软件很好用", "s2t") == "這個軟件很好用"
    assert zh_convert("这个软件很好用", "s2twp") == "這個軟體很好用"  # Taiwan phrases
    assert zh_convert("这个", None) == "这个"
    assert normalize("這個軟體很好用!", "zh", zh_convert="t2s") == "这个软体很好用！"


@needs_opencc
def test_zh_convert_unknown():
    with pytest.raises(TextcycleError, match="unknown Chinese conversion"):
        zh_convert("x", "t2klingon")


def test_zh_convert_without_opencc(monkeypatch):
    textnorm._opencc.cache_clear()
    monkeypatch.setitem(sys.modules, "opencc", None)  # import fails
    try:
        with pytest.raises(TextcycleError, match=r"textcycle\[zh\]"):
            zh_convert("这个", "s2t")
    finally:
        textnorm._opencc.cache_clear()


# --- sentence splitting -------------------------------------------------------------------------

def test_split_sentences():
    assert split_sentences("太慢了！下次不点了。") == ["太慢了！", "下次不点了。"]
    assert split_sentences("他说：“好！”然后走了") == ["他说：“好！”", "然后走了"]
    assert split_sentences("分量还可以……就是没特色……下回不吃啦") == ["分量还可以……", "就是没特色……", "下回不吃啦"]
    assert split_sentences("第一行\n第二行?!第三") == ["第一行", "第二行?!", "第三"]
    assert split_sentences("！！，开头乱了；结尾") == ["开头乱了；", "结尾"]
    assert split_sentences("？？？……") == []
    assert split_sentences("") == []


def test_split_long_sentence_at_commas():
    text = "菜品质量好，味道好，就是百度的问题，总是用运力原因来解释，晚了三个小时！"
    out = split_sentences(text, max_chars=20)
    assert out == ["菜品质量好，味道好，就是百度的问题", "总是用运力原因来解释，晚了三个小时！"]
    assert all(len(s) <= 20 for s in out)
    # a clause longer than the limit stays whole (the length filter drops it later)
    assert split_sentences("一" * 30 + "。", max_chars=10) == ["一" * 30 + "。"]


def test_review_to_sentences_mixed_input():
    out = review_to_sentences("手机不错,屏幕很清楚.电池一般 http://t.cn/abc 客服:还行!\n第二行也好")
    assert out == ["手机不错，屏幕很清楚。", "电池一般 客服：还行！", "第二行也好"]


# --- the zh_reviews loader ----------------------------------------------------------------------

def write_folder(root: Path, neg: list, pos: list) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "neg.txt").write_text("".join(l + "\n" for l in neg), encoding="utf-8")
    (root / "pos.txt").write_text("".join(l + "\n" for l in pos), encoding="utf-8")
    return root


def make_reviews(tag: str, words: list, n: int, start: int = 0) -> list:
    """n reviews of 3 sentences each; every sentence names its review (`tag` + number)."""
    return [f"第{i}{tag}个评论{words[i % len(words)]}。甲{i}{tag}还要说两句！乙{i}{tag}就这样吧"
            for i in range(start, start + n)]


def zh_cfg(paths, **kw) -> DataConfig:
    base = dict(source="zh_reviews", paths=[str(p) for p in paths], language="zh", min_chars=4,
                max_chars=60, dev_fraction=0.1, max_dev_per_style=6, test_fraction=0.1,
                max_test_per_style=9)
    base.update(kw)
    return DataConfig(**base)


def review_of(sentence: str) -> str:
    return re.search(r"\d+[负正]", sentence).group()


def test_zh_reviews_loader_splits_dedups_and_holds_out_whole_reviews(tmp_path):
    a = write_folder(tmp_path / "a", make_reviews("负", ["太差了", "很慢"], 40) + ["送餐很快。太难吃了！", "太差了太差了。"],
                     make_reviews("正", ["很好吃", "很快"], 30) + ["送餐很快。好吃！", "短"])
    b = write_folder(tmp_path / "b", ["太差了太差了。", "甲1负还要说两句！"], make_reviews("正", ["不错"], 5, start=100))
    stats = ReviewStats()
    c = load_zh_reviews(zh_cfg([a, b]), stats)
    assert "zh_reviews" in LOADERS
    assert c.language == "zh"
    everything = [s for split in (c.train, c.dev, c.test) for side in split for s in side]
    assert len(everything) == len(set(everything))                  # deduplicated over all splits
    assert "送餐很快。" not in everything and stats.both_labels == 1  # in both styles: dropped
    assert stats.duplicates >= 2                                     # "太差了太差了。", b's copies
    assert all(4 <= len(s) <= 60 for s in everything)
    assert stats.too_short >= 1                                      # "好吃！" and "短"
    for s in (0, 1):
        assert len(c.test[s]) == 9 and len(c.dev[s]) == 6
        held = {review_of(x) for x in c.dev[s] + c.test[s] if any(ch.isdigit() for ch in x)}
        trained = {review_of(x) for x in c.train[s] if any(ch.isdigit() for ch in x)}
        assert not held & trained                                    # whole reviews held out
    assert c.train[0] and c.train[1]
    # deterministic
    c2 = load_zh_reviews(zh_cfg([a, b]))
    assert (c2.train, c2.dev, c2.test) == (c.train, c.dev, c.test)


def test_zh_reviews_through_load_corpus_and_yaml(tmp_path):
    a = write_folder(tmp_path / "a", make_reviews("负", ["太差了"], 20), make_reviews("正", ["很好"], 20))
    cfg_file = tmp_path / "zh.yaml"
    cfg_file.write_text(
        f"data:\n  source: zh_reviews\n  paths: [{a}]\n  language: zh\n  min_chars: 4\n  max_chars: 40\n"
        "  max_train_per_style: 10\n", encoding="utf-8")
    cfg = load_config(cfg_file)
    assert cfg.data.paths == [str(a)] and cfg.data.zh_convert is None
    c = load_corpus(cfg.data)
    assert len(c.train[0]) == 10 and len(c.train[1]) == 10
    assert c.test[0] and c.dev[0]
    # `path` works for a single folder
    c1 = load_corpus(DataConfig(source="zh_reviews", path=str(a), language="zh"))
    assert c1.train[0]


@needs_opencc
def test_zh_reviews_with_conversion(tmp_path):
    a = write_folder(tmp_path / "a", make_reviews("负", ["软件很差"], 10), make_reviews("正", ["软件很好"], 10))
    c = load_zh_reviews(zh_cfg([a], zh_convert="s2twp", test_fraction=0.0, dev_fraction=0.1))
    joined = "".join(c.train[0] + c.train[1] + c.dev[0] + c.dev[1])
    assert "軟體" in joined and "软件" not in joined and "評論" in joined


def test_zh_reviews_errors(tmp_path):
    with pytest.raises(TextcycleError, match="data folder not found"):
        load_corpus(zh_cfg([tmp_path / "nope"]))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "neg.txt").write_text("差。\n", encoding="utf-8")
    with pytest.raises(TextcycleError, match="pos.txt is missing"):
        load_corpus(zh_cfg([tmp_path / "half"]))
    a = write_folder(tmp_path / "a", ["太差了吧。"], ["很好很好。"])
    with pytest.raises(TextcycleError, match="language: zh"):
        load_corpus(zh_cfg([a], language="en"))
    with pytest.raises(TextcycleError, match="no training sentences"):
        load_corpus(zh_cfg([write_folder(tmp_path / "b", ["短"], ["很好很好。"])]))
    with pytest.raises(TextcycleError, match="zh_convert is for Chinese"):
        load_corpus(DataConfig(source="text_files", train_0="x", train_1="y", zh_convert="t2s"))


def test_zh_cli(tmp_path, capsys):
    a = write_folder(tmp_path / "a", make_reviews("负", ["太差了"], 20), make_reviews("正", ["很好"], 20))
    cfg_file = tmp_path / "zh.yaml"
    cfg_file.write_text(f"data:\n  source: zh_reviews\n  paths: [{a}]\n  language: zh\n", encoding="utf-8")
    assert zh_main(["--config", str(cfg_file), "--write", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "duplicates" in out
    assert (tmp_path / "out" / "sentiment.test.1").is_file()
    c = load_corpus(DataConfig(source="folder", path=str(tmp_path / "out"), language="zh"))
    assert c.train[0]
    assert zh_main(["--config", str(cfg_file), "-o", f"data.paths=[{tmp_path / 'nope'}]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: data folder not found") and len(err.strip().splitlines()) == 1


# --- BLEU ---------------------------------------------------------------------------------------

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


# --- configs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["zh-reviews.yaml", "ptt.yaml"])
def test_configs_load(name):
    cfg = load_config(REPO / "configs" / name)
    assert cfg.data.language == "zh"
    assert cfg.tokenizer.character_coverage < 1.0
    assert cfg.tokenizer.max_length <= cfg.generator.max_position_embeddings


@pytest.mark.data
def test_zh_reviews_on_shared_data(shared_data):
    """The real waimai_10k folder: sentence split, sizes in a plausible range, no leaks."""
    cfg = load_config(REPO / "configs" / "zh-reviews.yaml", overrides=[
        f"data.paths=[{shared_data / 'waimai_10k'}]"])
    stats = ReviewStats()
    c = load_zh_reviews(cfg.data, stats)
    assert stats.reviews[0] > 7000 and stats.reviews[1] > 3500
    for s in (0, 1):
        assert 3000 < len(c.train[s]) < 20000
        assert 0 < len(c.test[s]) <= 1000 and 0 < len(c.dev[s]) <= 500
        assert not set(c.test[s]) & set(c.train[s])
        assert all(4 <= len(x) <= 60 for x in c.train[s][:2000])
    assert not set(c.train[0]) & set(c.train[1])


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
    cfg = ClassifierConfig(tokenization="zh_chars", epochs=10, min_count=1, buckets=1024, dim=16, batch_size=16, lr=0.05)
    clf = train_classifier(train, cfg, log=lambda m: None)
    assert clf.tokens("服務 很好！", normalized=True) == ["服", "務", "很", "好", "！"]
    assert clf.accuracy(make(neg, 50), 0) >= 95 and clf.accuracy(make(pos, 50), 1) >= 95
    clf.save(tmp_path / "clf")
    again = StyleClassifier.load(tmp_path / "clf")
    assert again.cfg.tokenization == "zh_chars"
    assert again.predict(["老闆超棒"]) == clf.predict(["老闆超棒"])
