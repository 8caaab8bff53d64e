"""Corpora (textcycle.text.data): the loaders, Chinese sentence splitting and the review loader,
`python -m textcycle.text.data`, and the configs that name them."""

import re
import sys
from pathlib import Path

import pytest

from textcycle.config import load_config
from textcycle.errors import TextcycleError
from textcycle.text.config import DataConfig
from textcycle.text.data import LOADERS, ReviewStats, load_corpus, load_zh_reviews, review_to_sentences, split_sentences
from textcycle.text.data import main as data_main
from textcycle.text.textnorm import opencc_available

REPO = Path(__file__).resolve().parents[2]


needs_opencc = pytest.mark.skipif(
    not opencc_available(), reason="OpenCC not installed (pip install opencc-python-reimplemented)"
)


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


def write_folder(root: Path, neg: list, pos: list) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "neg.txt").write_text("".join(line + "\n" for line in neg), encoding="utf-8")
    (root / "pos.txt").write_text("".join(line + "\n" for line in pos), encoding="utf-8")
    return root


def make_reviews(tag: str, words: list, n: int, start: int = 0) -> list:
    """n reviews of 3 sentences each; every sentence names its review (`tag` + number)."""
    return [
        f"第{i}{tag}个评论{words[i % len(words)]}。甲{i}{tag}还要说两句！乙{i}{tag}就这样吧"
        for i in range(start, start + n)
    ]


def zh_cfg(paths, **kw) -> DataConfig:
    base = dict(
        source="zh_reviews",
        paths=[str(p) for p in paths],
        language="zh",
        min_chars=4,
        max_chars=60,
        dev_fraction=0.1,
        max_dev_per_style=6,
        test_fraction=0.1,
        max_test_per_style=9,
    )
    base.update(kw)
    return DataConfig(**base)


def review_of(sentence: str) -> str:
    return re.search(r"\d+[负正]", sentence).group()


def test_zh_reviews_loader_splits_dedups_and_holds_out_whole_reviews(tmp_path):
    a = write_folder(
        tmp_path / "a",
        make_reviews("负", ["太差了", "很慢"], 40) + ["送餐很快。太难吃了！", "太差了太差了。"],
        make_reviews("正", ["很好吃", "很快"], 30) + ["送餐很快。好吃！", "短"],
    )
    b = write_folder(
        tmp_path / "b", ["太差了太差了。", "甲1负还要说两句！"], make_reviews("正", ["不错"], 5, start=100)
    )
    stats = ReviewStats()
    c = load_zh_reviews(zh_cfg([a, b]), stats)
    assert "zh_reviews" in LOADERS
    assert c.language == "zh"
    everything = [s for split in (c.train, c.dev, c.test) for side in split for s in side]
    assert len(everything) == len(set(everything))  # deduplicated over all splits
    assert "送餐很快。" not in everything and stats.both_labels == 1  # in both styles: dropped
    assert stats.duplicates >= 2  # "太差了太差了。", b's copies
    assert all(4 <= len(s) <= 60 for s in everything)
    assert stats.too_short >= 1  # "好吃！" and "短"
    for s in (0, 1):
        assert len(c.test[s]) == 9 and len(c.dev[s]) == 6
        held = {review_of(x) for x in c.dev[s] + c.test[s] if any(ch.isdigit() for ch in x)}
        trained = {review_of(x) for x in c.train[s] if any(ch.isdigit() for ch in x)}
        assert not held & trained  # whole reviews held out
    assert c.train[0] and c.train[1]
    # deterministic
    c2 = load_zh_reviews(zh_cfg([a, b]))
    assert (c2.train, c2.dev, c2.test) == (c.train, c.dev, c.test)


def test_zh_reviews_through_load_corpus_and_yaml(tmp_path):
    a = write_folder(tmp_path / "a", make_reviews("负", ["太差了"], 20), make_reviews("正", ["很好"], 20))
    cfg_file = tmp_path / "zh.yaml"
    cfg_file.write_text(
        f"data:\n  source: zh_reviews\n  paths: [{a}]\n  language: zh\n  min_chars: 4\n  max_chars: 40\n"
        "  max_train_per_style: 10\n",
        encoding="utf-8",
    )
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
    assert data_main(["--config", str(cfg_file), "--write", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "duplicates" in out
    assert (tmp_path / "out" / "sentiment.test.1").is_file()
    c = load_corpus(DataConfig(source="folder", path=str(tmp_path / "out"), language="zh"))
    assert c.train[0]
    assert data_main(["--config", str(cfg_file), "-o", f"data.paths=[{tmp_path / 'nope'}]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: data folder not found") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["zh-reviews.yaml", "ptt.yaml"])
def test_configs_load(name):
    cfg = load_config(REPO / "configs" / name)
    assert cfg.data.language == "zh"
    assert cfg.tokenizer.character_coverage < 1.0
    assert cfg.tokenizer.max_length <= cfg.generator.max_position_embeddings


@pytest.mark.data
def test_zh_reviews_on_shared_data(shared_data):
    """The real waimai_10k folder: sentence split, sizes in a plausible range, no leaks."""
    cfg = load_config(REPO / "configs" / "zh-reviews.yaml", overrides=[f"data.paths=[{shared_data / 'waimai_10k'}]"])
    stats = ReviewStats()
    c = load_zh_reviews(cfg.data, stats)
    assert stats.reviews[0] > 7000 and stats.reviews[1] > 3500
    for s in (0, 1):
        assert 3000 < len(c.train[s]) < 20000
        assert 0 < len(c.test[s]) <= 1000 and 0 < len(c.dev[s]) <= 500
        assert not set(c.test[s]) & set(c.train[s])
        assert all(4 <= len(x) <= 60 for x in c.train[s][:2000])
    assert not set(c.train[0]) & set(c.train[1])


def test_toy_corpora_are_the_same_in_every_process(tmp_path):
    # bug: tests/conftest.py seeded its toy corpora with hash((split, s)), which Python randomises
    # per process (PYTHONHASHSEED), so the tests saw different data in every run
    import os
    import subprocess

    code = (
        "import sys, hashlib; sys.path.insert(0, 'tests'); import conftest, pathlib, tempfile\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "conftest.write_toy_files(d)\n"
        "print(hashlib.sha256(b''.join(p.read_bytes() for p in sorted(d.glob('sentiment.*')))).hexdigest())"
    )
    digests = set()
    for seed in ("1", "2"):
        r = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert r.returncode == 0, r.stderr
        digests.add(r.stdout.strip())
    assert len(digests) == 1
