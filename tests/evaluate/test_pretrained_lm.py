"""Perplexity under a pretrained LM (evaluate/pretrained_lm.py): the CTranslate2 copy scores what
the torch model computes, empty texts predict nothing, scores are kept in the cache, and the
leaderboard table shows the column only when it was computed."""

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ctranslate2")

from textcycle.engines.lm_convert import converted_base  # noqa: E402
from textcycle.evaluate.pretrained_lm import START, PretrainedLM  # noqa: E402
from textcycle.evaluate.report import markdown_table  # noqa: E402

TEXTS = ["the food was bad", "the staff was friendly .", ""]


@pytest.fixture
def lm(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))
    return PretrainedLM(converted_base(str(tiny_base), quantization="float32"), threads=1)


@pytest.mark.parametrize("start", [START, "<|im_start|>"])
def test_nll_is_the_torch_models(lm, tiny_base, start):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    lm.start = start
    tok = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    got = lm.nll(TEXTS)
    for text, (nll, n) in zip(TEXTS[:2], got):
        ids = tok(start + text, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
        ref = -logp.gather(1, ids[0, 1:, None]).sum().item()
        assert n == ids.shape[1] - 1 and nll == pytest.approx(ref, rel=1e-3)
    assert got[2] == (0.0, 0)
    total = sum(a for a, _ in got[:2]) / sum(c for _, c in got[:2])
    assert lm.perplexity(TEXTS) == pytest.approx(math.exp(total))


def test_each_base_scores_after_its_own_start(monkeypatch, tiny_base, tmp_path):
    import textcycle.evaluate.pretrained_lm as module

    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(module, "converted_base", lambda name: converted_base(str(tiny_base), "float32"))
    assert PretrainedLM.load("gemma3-270m", threads=1).start == "<bos>"
    assert PretrainedLM.load("smollm2-135m", threads=1).start == START == "<|endoftext|>"


def test_scores_are_kept_in_the_cache(lm):
    first = lm.nll(TEXTS)

    class NoScoring:
        def score_batch(self, *a, **k):
            raise AssertionError("scored again")

    lm.generator = NoScoring()
    assert lm.nll(TEXTS) == first
    with pytest.raises(AssertionError, match="scored again"):
        lm.nll(TEXTS[:1])


def test_the_column_shows_only_when_computed():
    row = {"name": "a", "style_accuracy": 90.0, "perplexity": 50.0}
    assert "PPL (SmolLM2)" not in markdown_table([row])
    assert "| 12.5 |" in markdown_table([{**row, "perplexity_pretrained": 12.5}])
