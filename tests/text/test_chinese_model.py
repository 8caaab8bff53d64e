"""The text model on Chinese: piece-level noise, the model's script, and Traditional/Simplified
round trips in the rewriter, on a tiny Traditional-Chinese corpus the test writes."""

import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "configs" / "tiny.yaml")
NEG = ["服務很差", "很難吃", "太貴了", "態度不好", "很髒", "等了很久"]
POS = ["服務很好", "很好吃", "很便宜", "態度親切", "很乾淨", "上菜很快"]
NOUNS = ["這家店", "這間餐廳", "老闆", "外送", "這次", "早餐"]


def _has_opencc() -> bool:
    from textcycle.text.textnorm import opencc_available

    return opencc_available()


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

    from textcycle.config import load_config
    from textcycle.text.config import TextCycleConfig
    from textcycle.text.train import TrainingRun

    root = tmp_path_factory.mktemp("zh")
    data = write_corpus(root / "data")
    cfg = load_config(
        TINY, TextCycleConfig, overrides=[f"data.path={data}", "data.language=zh", f"train.output_dir={root / 'run'}"]
    )
    return TrainingRun(cfg, Accelerator(cpu=True))


def test_chinese_noise_works_on_pieces_not_the_whole_sentence(zh_trainer):
    t = zh_trainer.method
    assert t.piece_units
    ids = zh_trainer.train_ids[0][0]
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


@pytest.mark.skipif(
    not _has_opencc(), reason="opencc-python-reimplemented not installed (pip install opencc-python-reimplemented)"
)
def test_model_records_script_and_rewriter_answers_in_the_users_script(zh_trainer, tmp_path):
    from textcycle.rewrite import Rewriter
    from textcycle.text.model import TextCycleModel
    from textcycle.text.textnorm import zh_script

    model = zh_trainer.model()
    assert model.script == "traditional"
    model.save_pretrained(tmp_path / "m")
    loaded = TextCycleModel.from_pretrained(tmp_path / "m")
    assert loaded.script == "traditional"
    rw = Rewriter(loaded)
    seen = []

    def echo(batches, *args, **kwargs):  # stands in for the generators: shows what the model gets
        seen.extend(t for normalized, _ in batches for t in normalized)
        return [([[t] for t in normalized], None) for normalized, _ in batches]

    rw.candidates = echo
    assert rw.rewrite("这家店服务很差", to="positive") == "这家店服务很差"  # Simplified in, Simplified out
    assert rw.rewrite("這家店服務很差", to="positive") == "這家店服務很差"
    assert seen == ["這家店服務很差", "這家店服務很差"]  # the model always sees its own script
    assert zh_script(seen) == "traditional"


@pytest.mark.skipif(
    not _has_opencc(), reason="opencc-python-reimplemented not installed (pip install opencc-python-reimplemented)"
)
def test_script_detection_and_conversions():
    from textcycle.text.textnorm import script_conversions, zh_script

    assert zh_script(["這家店的服務很差"]) == "traditional"
    assert zh_script(["这家店的服务很差"]) == "simplified"
    assert zh_script(["很好", "OK"]) is None  # nothing script-specific
    assert script_conversions("這家店的服務很差", "simplified") == ("t2s", "s2tw")
    assert script_conversions("这家店的服务很差", "traditional") == ("s2tw", "tw2s")
    assert script_conversions("这家店的服务很差", "simplified") == (None, None)
    assert script_conversions("很好", "simplified") == (None, None)
    assert script_conversions("這家店", None) == (None, None)


# ------------------------------------------------------------------ evaluation on a config's test split


class WordClassifier:
    """Stands in for the evaluation classifier: positive iff a positive phrase is present."""

    def predict(self, texts):
        return [int(any(p in t for p in POS)) for t in texts]


def test_split_scores_copy_input_is_the_floor():
    from textcycle.evaluate.split_eval import score_outputs

    src = [["這家店服務很差", "早餐很難吃"], ["這家店服務很好", "早餐很好吃"]]
    copy = score_outputs(src, src, WordClassifier(), language="zh", name="copy")
    assert copy["style_accuracy"] == 0.0 and copy["self_bleu"] == 100.0 and copy["g_self"] == 0.0
    swapped = [["這家店服務很好", "早餐很好吃"], ["這家店服務很差", "早餐很難吃"]]
    ours = score_outputs(src, swapped, WordClassifier(), language="zh")
    assert ours["style_accuracy"] == 100.0 and ours["neg2pos"]["style_accuracy"] == 100.0
    assert 0 < ours["self_bleu"] < 100
    assert ours["g_self"] == pytest.approx((100 * ours["self_bleu"]) ** 0.5, abs=0.01)


def test_clear_subset_keeps_sources_given_their_own_label_confidently():
    import torch

    from textcycle.evaluate.split_eval import clear_subset, clearest

    class Probs:  # p(positive) by hand, per text
        table = {"a": 0.05, "b": 0.2, "c": 0.95, "d": 0.5, "e": 0.91, "f": 0.89}

        def predict_proba(self, texts):
            p1 = torch.tensor([self.table[t] for t in texts])
            return torch.stack([1 - p1, p1], dim=1)

    # negative sources need p(negative) >= 0.9: a (0.95) yes, b (0.8) no, c (0.05) no;
    # positive ones p(positive) >= 0.9: d (0.5) no, e (0.91) yes, f (0.89) no
    assert clear_subset([["a", "b", "c"], ["d", "e", "f"]], Probs()) == [[0], [1]]
    assert clear_subset([["a", "b"], ["e"]], Probs(), min_prob=0.8) == [[0, 1], [0]]
    # the surest n per style, surest first, whatever their probability
    assert clearest([["a", "b", "c"], ["d", "e", "f"]], Probs(), 2) == [[0, 1], [1, 2]]


def test_marking_sheet_has_a_column_per_mark():
    from textcycle.evaluate.report import MARKS, rewrites_table

    sheet = rewrites_table(
        [["很差|吧", "x"], ["很好"]], [["很好|吧", "y"], ["很差"]], ["噓", "推"], [[0], [0]], "zh", MARKS
    )
    assert sheet.splitlines()[:4] == [
        "**噓 -> 推**",
        "",
        "| source | rewrite | style flipped | content kept | fluent |",
        "|---|---|---|---|---|",
    ]
    assert sheet.splitlines()[4] == "| 很差\\|吧 | 很好\\|吧 | | | |"


def test_split_eval_cli_end_to_end(zh_trainer, tmp_path):
    from textcycle.evaluate import split_eval, train_classifier

    cfg_file = tmp_path / "zh.yaml"
    data = zh_trainer.cfg.data.path
    text = Path(TINY).read_text(encoding="utf-8").replace("tests/data-not-set", str(data))
    cfg_file.write_text(text.replace("  style_names:", "  language: zh\n  style_names:"), encoding="utf-8")
    zh_trainer.model().save_pretrained(tmp_path / "model")
    assert (
        train_classifier.main(
            [
                "--config",
                str(cfg_file),
                "--out",
                str(tmp_path / "clf"),
                "--epochs",
                "10",
                "--dim",
                "16",
                "--buckets",
                "1024",
                "--lr",
                "0.05",
            ]
        )
        == 0
    )
    out = tmp_path / "eval"
    from textcycle import bundle

    assert (
        bundle.main(
            [
                str(tmp_path),
                "--checkpoint",
                "model",
                "--config",
                str(cfg_file),
                "--outputs",
                str(out),
                "--classifier",
                str(tmp_path / "clf"),
                "--engine",
                "torch",
            ]
        )
        == 0
    )
    assert (
        split_eval.main(
            ["--config", str(cfg_file), "--outputs", str(out), "--classifier", str(tmp_path / "clf"), "--samples", "3"]
            + ["--marking", "2"]
        )
        == 0
    )
    n2p = (out / "neg2pos.txt").read_text(encoding="utf-8").splitlines()
    assert len(n2p) == 40
    scores = __import__("json").loads((out / "scores.json").read_text(encoding="utf-8"))
    assert scores["copy_input"]["self_bleu"] == 100.0
    assert scores["copy_input"]["style_accuracy"] <= 10  # the classifier knows this toy corpus
    from textcycle.evaluate.classifier import StyleClassifier

    clear = scores["clear"]  # its size is what clear_subset gives with the same ruler
    _, _, sources = split_eval.test_split(cfg_file)
    keep = split_eval.clear_subset(sources, StyleClassifier.load(tmp_path / "clf"))
    assert clear["min_prob"] == 0.9 and clear["n"] == [len(k) for k in keep]
    if all(keep):
        assert clear["copy_input"]["self_bleu"] == 100.0 and clear["copy_input"]["n"] == sum(clear["n"])
        assert clear["ours"]["n"] == sum(clear["n"])
    else:
        assert clear["ours"] is None and "no table" in split_eval.clear_table(scores)
    assert "negative -> positive" in (out / "samples.md").read_text(encoding="utf-8")
    sheet = (out / "marking.md").read_text(encoding="utf-8")  # --marking 2: two rows a direction to mark
    assert sheet.count("| | | |") == 4 and "style flipped" in sheet
    # a bad path is one clear line, exit 2
    assert (
        split_eval.main(
            ["--config", str(cfg_file), "--outputs", str(tmp_path / "nope"), "--classifier", str(tmp_path / "clf")]
        )
        == 2
    )


def test_bundle_with_config_writes_a_chinese_model_card(zh_trainer, tmp_path):
    from textcycle import bundle
    from textcycle.evaluate import train_classifier
    from textcycle.rewrite import Rewriter

    cfg_file = tmp_path / "zh.yaml"
    text = Path(TINY).read_text(encoding="utf-8").replace("tests/data-not-set", str(zh_trainer.cfg.data.path))
    cfg_file.write_text(text.replace("  style_names:", "  language: zh\n  style_names:"), encoding="utf-8")
    run = tmp_path / "run"
    zh_trainer.model().save_pretrained(run / "best")
    assert (
        train_classifier.main(
            [
                "--config",
                str(cfg_file),
                "--out",
                str(tmp_path / "clf"),
                "--epochs",
                "10",
                "--dim",
                "16",
                "--buckets",
                "1024",
                "--lr",
                "0.05",
            ]
        )
        == 0
    )
    into = tmp_path / "bundled"
    assert (
        bundle.main(
            [
                str(run),
                "--config",
                str(cfg_file),
                "--classifier",
                str(tmp_path / "clf"),
                "--outputs",
                str(tmp_path / "outputs"),
                "--into",
                str(into),
                "--command",
                "python -m textcycle.train --config zh.yaml",
            ]
        )
        == 0
    )
    card = (into / "README.md").read_text(encoding="utf-8")
    assert "language: zh" in card and "copy input" in card and "python -m textcycle.train --config zh.yaml" in card
    assert "Clear subset: test sources the evaluation classifier gives their own label with p >= 0.9" in card
    samples = card.split("## Twenty sample rewrites")[1].split("## Limitations")[0]
    assert len([ln for ln in samples.splitlines() if ln.startswith("| ") and "source" not in ln]) == 40
    assert "negative -> positive" in card and "positive -> negative" in card
    assert isinstance(Rewriter.from_pretrained(into).rewrite("這家店服務很差"), str)


def test_dev_self_bleu_of_a_copy_is_100_in_chinese(zh_trainer, monkeypatch):
    # corpus-form Chinese has no spaces: whitespace tokenisation would score any copy as ~0
    monkeypatch.setattr(zh_trainer, "transfer", lambda sents, to, bs=128: list(sents))
    res = zh_trainer.evaluate()
    assert res["dev/self_bleu"] == pytest.approx(100.0)


def test_long_chinese_input_is_split_not_truncated(zh_trainer):
    from textcycle.rewrite import Rewriter
    from textcycle.text.textnorm import model_pieces

    text = (
        "這家店的服務很差，菜也很難吃，價格還很貴，老闆的態度非常不好，我們等了一個多小時才上菜。下次不會再來了！" * 3
    )
    chunks = model_pieces(text, "zh", 16)
    assert "".join(chunks) == text and max(map(len, chunks)) <= 16
    rw = Rewriter(zh_trainer.model())
    seen = []
    rw.candidates = lambda batches, *a, **k: [(seen.extend(n), [[t] for t in n], None)[1:] for n, _ in batches]
    out = rw.rewrite(text, to="positive")
    assert len(seen) >= 6 and max(map(len, seen)) <= rw.max_words
    assert out == text  # the echoed pieces join back without spaces or losses


def test_rerank_picks_the_highest_reward_candidate(zh_trainer):
    import torch

    from textcycle.rewrite import Rewriter
    from textcycle.text.keep import invented_loop
    from textcycle.text.textnorm import normalize

    rw = Rewriter(zh_trainer.model())
    src = [normalize(t, "zh") for t in ("這家店服務很差", "早餐很難吃啦")]
    inputs = [rw.pieces(t) for t in src]
    assert [x.pieces for x in inputs] == [[t] for t in src]
    jobs = [([(x, 0) for x in inputs], 1)]
    torch.manual_seed(0)
    [(texts, scores)] = rw.candidates([(src, 1)], n=4)
    assert len(texts) == 2 and all(len(t) == 4 for t in texts) and scores.shape == (2, 4)
    assert ((scores >= 0) & (scores <= 1)).all()

    def usable(b, c):  # not empty, no loop the source has not (this barely trained model loops)
        return bool(c.strip()) and not invented_loop(src[b], c)

    [(greedy, _)] = rw.candidates([(src, 1)])
    want = [0 if usable(b, row[0]) else None for b, row in enumerate(greedy)]
    assert rw.choose(jobs, rw.candidates([(src, 1)])) == [want]  # the greedy rewrite, column 0, if usable
    # of the candidates that keep the numbers (none here) and are usable, the highest reward
    keep = [[i for i, c in enumerate(row) if usable(b, c)] for b, row in enumerate(texts)]
    best = [max(ok, key=lambda i, b=b: scores[b][i]) if ok else None for b, ok in enumerate(keep)]
    torch.manual_seed(0)
    assert rw.choose(jobs, rw.candidates([(src, 1)], n=4)) == [best]
    with pytest.raises(Exception, match="rerank"):
        rw.rewrite("很好", rerank=0)


def test_chinese_outputs_get_full_width_punctuation_back():
    from textcycle.text.textnorm import decoded_to_corpus_form

    # what SentencePiece's NFKC decoding gives for "非常好用，而且实惠！"
    assert decoded_to_corpus_form(["非常好用,而且实惠!"], "zh") == ["非常好用，而且实惠！"]
    assert decoded_to_corpus_form(["good , cheap !"], "en") == ["good , cheap !"]
