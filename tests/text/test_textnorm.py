"""Text normalisation (textcycle.text.textnorm): the Yelp corpus form and back, numbers, Chinese
normal form and scripts, and the one sentence splitter (corpus loading and the rewriter both use it)."""

import sys

import pytest

from textcycle import textnorm
from textcycle.errors import TextcycleError
from textcycle.text.textnorm import denormalize, model_pieces, normalize, opencc_available, zh_convert, zh_normalize

needs_opencc = pytest.mark.skipif(
    not opencc_available(), reason="OpenCC not installed (pip install opencc-python-reimplemented)"
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("好吃!!!!!下次再來", "好吃！！！下次再來"),  # ASCII ! in Chinese context, run cut to 3
        ("ｉＰｈｏｎｅ１２ 很好用 ，推！", "iPhone12 很好用，推！"),  # full-width letters/digits folded
        ("用 iPhone 12 Pro 拍的", "用 iPhone 12 Pro 拍的"),  # spaces between words stay
        ("太鹹了吧   根本吃不下去", "太鹹了吧 根本吃不下去"),  # PTT-style separator folded to one
        ("价格12.5元,还行", "价格12.5元，还行"),  # decimals stay, comma widened
        ("设施非常陈旧.建议改善.", "设施非常陈旧。建议改善。"),  # "." after CJK ends the sentence
        ("10:30 送到,太慢了...", "10:30 送到，太慢了……"),  # time stays, ellipsis
        ("。。。无语", "……无语"),
        ("原因:送餐慢;态度差", "原因：送餐慢；态度差"),
        ("(附图)很好", "（附图）很好"),
        ("great, really good!", "great, really good!"),  # English untouched
        ("他说 “好” 。", "他说“好”。"),  # no spaces next to CJK punctuation
        ("\ufeff\u3000全形空白\u200b测试\u3000", "全形空白 测试"),  # BOM, ideographic space, zero width
        ("好吃 😋😋😋😋😋 ❤️", "好吃😋😋😋❤"),  # emoji kept, VS16 dropped, run cut
        ("太好了&hellip;&#183;", "太好了……·"),  # HTML entities of scraped reviews
        ("A，B", "A,B"),  # full-width comma between Latin letters
        ("", ""),
    ],
)
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
        with pytest.raises(TextcycleError, match="opencc-python-reimplemented"):
            zh_convert("这个", "s2t")
    finally:
        textnorm._opencc.cache_clear()


def test_numbers_come_back():
    from textcycle.text.textnorm import number_tokens, restore_numbers

    assert (
        restore_numbers("waited _num_ minutes for _num_ pizzas", number_tokens("waited 45 minutes for 2 pizzas"))
        == "waited 45 minutes for 2 pizzas"
    )


def test_numbers_use_the_corpus_number_pattern():
    # bug: the rewriter had its own pattern that counted "6:30" as a number, so "6:30" went where "20" belongs
    from textcycle.text.textnorm import number_tokens, restore_numbers, yelp_tokenize

    src = "we arrived at 6:30 and paid 20 dollars for cold food ."
    assert yelp_tokenize(src) == "we arrived at 6:30 and paid _num_ dollars for cold food ."
    assert number_tokens(src) == ["20"]
    assert (
        restore_numbers("we arrived at 6:30 and paid _num_ dollars for warm food .", number_tokens(src))
        == "we arrived at 6:30 and paid 20 dollars for warm food ."
    )
    assert number_tokens("$1,000 for 2.5 hours , 3-4 people , the 2nd time") == ["1,000", "2.5"]


def test_model_pieces_split_long_input_without_losses():
    assert model_pieces("a b c d e f g", "en", 3) == ["a b c", "d e f", "g"]
    assert model_pieces("good food . bad service !", "en", 10) == ["good food .", "bad service !"]
    text = "服務很差，菜也很難吃，價格還很貴，老闆的態度非常不好。" + "一" * 40
    pieces = model_pieces(text, "zh", 12)
    assert "".join(pieces) == text and max(map(len, pieces)) <= 12


def _unknown(ch):  # stand-in vocabulary: emoji and ★ are unknown
    return ord(ch) >= 0x1F000 or ch == "★"


@pytest.mark.parametrize(
    "text, stripped, runs",
    [
        ("这家店的服务很差😡", "这家店的服务很差", [(8, "😡")]),
        ("😡好吃", "好吃", [(0, "😡")]),
        ("好吃👍！下次", "好吃！下次", [(2, "👍")]),
        ("a★b★c", "abc", [(1, "★"), (2, "★")]),
        ("great 😍 😍 food .", "great food .", [(6, "😍 😍")]),  # a spaced run, one space left
        ("😡😡", "", [(0, "😡😡")]),
        ("no symbols", "no symbols", []),
    ],
)
def test_protect_symbols_takes_out_what_the_vocabulary_lacks(text, stripped, runs):
    from textcycle.text.textnorm import protect_symbols, restore_symbols

    assert protect_symbols(text, _unknown) == (stripped, runs)
    assert restore_symbols(stripped, stripped, runs, spaced=" " in text) == text  # a copy gets them back


@pytest.mark.parametrize(
    "rewrite, stripped, runs, spaced, expected",
    [
        ("这家店的服务不错", "这家店的服务很差", [(8, "😡")], False, "这家店的服务不错😡"),  # at the end
        ("难吃", "好吃", [(0, "😡")], False, "😡难吃"),  # at the start
        ("太难吃了下次不来", "太好吃了下次还来", [(4, "😍😍")], False, "太难吃了😍😍下次不来"),  # after 了
        ("难吃！以后", "好吃！下次", [(2, "👍")], False, "难吃👍！以后"),  # after the changed word
        ("", "好", [(1, "👍")], False, "👍"),  # nothing left
        ("the food was great .", "the food was bad .", [(16, "😡")], True, "the food was great 😡 ."),
    ],
)
def test_restore_symbols_puts_them_at_the_same_place(rewrite, stripped, runs, spaced, expected):
    from textcycle.text.textnorm import restore_symbols

    assert restore_symbols(rewrite, stripped, runs, spaced) == expected
