"""The LM model's CTranslate2 engine: the merged copy is built once into the cache and reused,
rebuilt when the adapter changes; greedy rewrites and reconstruction scores match the torch
reference (float32 copy)."""

import pytest
import torch

pytest.importorskip("peft")
pytest.importorskip("ctranslate2")

from textcycle.text.lm_engine import LMEngine, merged_copy
from textcycle.text.lm_model import LMGenerators, LMSpec

SOURCES = ["the food was bad", "the staff was rude"]
TARGETS = ["the food was great", "the staff was friendly"]


@pytest.fixture(scope="module")
def trained_folder(tiny_base, tmp_path_factory):
    torch.manual_seed(0)
    gens = LMGenerators.build(LMSpec(lora_rank=8, lora_alpha=16, lora_dropout=0.0), base=str(tiny_base))
    opt = torch.optim.AdamW([p for p in gens.parameters() if p.requires_grad], lr=5e-3)
    gens.train()
    for _ in range(150):
        loss = gens.token_loss(SOURCES, [1, 1], TARGETS) + gens.token_loss(TARGETS, [0, 0], SOURCES)
        opt.zero_grad()
        loss.backward()
        opt.step()
    folder = tmp_path_factory.mktemp("lm") / "model"
    gens.save_pretrained(folder)
    return folder, gens.eval()


def test_greedy_and_scores_match_torch(trained_folder, tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))
    folder, gens = trained_folder
    ct2 = merged_copy(folder, base=str(tiny_base), quantization="float32")
    engine = LMEngine(ct2, ["negative", "positive"], threads=1)
    assert engine.generate(SOURCES, to=1) == gens.generate(SOURCES, [1, 1]) == [[t] for t in TARGETS]
    lp, n = gens.target_logprobs(TARGETS, [0, 0], SOURCES)
    assert engine.logprobs(SOURCES, TARGETS, style=0) == pytest.approx((lp / n).tolist(), abs=1e-3)
    samples = engine.generate(SOURCES[:1], to=1, sample=True, num_hypotheses=3)
    assert len(samples) == 1 and len(samples[0]) == 3
    # built once: a second call finds the checked copy
    notes = []
    monkeypatch.setattr("textcycle.cache.print", lambda *a, **k: notes.append(a), raising=False)
    assert merged_copy(folder, base=str(tiny_base), quantization="float32") == ct2 and not notes


def test_a_changed_adapter_gets_its_own_copy(trained_folder, tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))
    folder, gens = trained_folder
    first = merged_copy(folder, base=str(tiny_base), quantization="float32")
    with torch.no_grad():
        for name, p in gens.lm.named_parameters():
            if "lora_B" in name:
                p.add_(0.01)
    gens.save_pretrained(tmp_path / "changed")
    second = merged_copy(tmp_path / "changed", base=str(tiny_base), quantization="float32")
    assert second != first and second.is_dir() and first.is_dir()
