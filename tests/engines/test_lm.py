"""The LM model's engine (engines/lm.py): the merged copy is built once into the cache and reused,
rebuilt when the adapter changes; greedy rewrites and reconstruction scores match the torch
reference (float32 copy); the Rewriter runs an LM model folder on natural text, reranks with its
discriminator, and, once the copy is built, without torch."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from textcycle.engines.base import Hypothesis  # noqa: E402
from textcycle.engines.lm import LMEngine, merged_copy  # noqa: E402
from textcycle.errors import TextcycleError  # noqa: E402
from textcycle.model_folder import ModelFolder  # noqa: E402
from textcycle.rewriter import Rewriter  # noqa: E402
from textcycle.text.lm_model import LMGenerators, LMSpec  # noqa: E402
from textcycle.text.textnorm import yelp_tokenize  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "textcycle" / "pretrained" / "yelp"
SOURCES = ["the food was bad", "the staff was rude"]
TARGETS = ["the food was great", "the staff was friendly"]


@pytest.fixture(scope="module")
def trained(tiny_base, tmp_path_factory):
    """Generators that learned the two pairs both ways, saved as an LM model folder with the
    bundled Yelp model's discriminator (as `lm_train` saves one)."""
    torch.manual_seed(0)
    gens = LMGenerators.build(LMSpec(base=str(tiny_base), lora_rank=8, lora_alpha=16, lora_dropout=0.0))
    opt = torch.optim.AdamW([p for p in gens.parameters() if p.requires_grad], lr=5e-3)
    gens.train()
    for _ in range(150):
        loss = gens.token_loss(SOURCES, [1, 1], TARGETS) + gens.token_loss(TARGETS, [0, 0], SOURCES)
        opt.zero_grad()
        loss.backward()
        opt.step()
    small = json.loads((BUNDLED / "config.json").read_text())

    def extra(tmp):
        for name in ("discriminator.safetensors", "tokenizer.model"):
            shutil.copyfile(BUNDLED / name, tmp / name)

    folder = tmp_path_factory.mktemp("lm") / "model"
    config = {"language": "en", "max_length": small["max_length"], "discriminator": small["discriminator"]}
    gens.save_pretrained(folder, config=config, extra=extra)
    return folder, gens.eval()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_greedy_and_scores_match_torch(trained, cache, monkeypatch):
    folder, gens = trained
    ct2 = merged_copy(folder, quantization="float32")
    engine = LMEngine(ct2, ["negative", "positive"], threads=1)
    assert engine.generate(SOURCES, to=1) == gens.generate(SOURCES, [1, 1]) == [[t] for t in TARGETS]
    # log p(x | y, into style 0), the content reward of rewrites y of x, as the torch reference
    lp, n = gens.target_logprobs(TARGETS, [0, 0], SOURCES)
    assert engine.logprobs(TARGETS, SOURCES, 0).tolist() == pytest.approx((lp / n).tolist(), abs=1e-3)
    # a hypothesis of this engine is read as the tokens it was generated as, not as its text
    hyps = [h[0] for h in engine.generate(SOURCES, to=1)]
    assert hyps[0].owner is engine
    ids = [engine.tokenizer.token_to_id(t) for t in engine._tokens(TARGETS[0])]
    disguised = Hypothesis("the food was bad", ids, engine)  # its text says one thing, its ids another
    assert engine.logprobs([disguised], SOURCES[:1], 0)[0] == pytest.approx(lp[0].item() / n[0].item(), abs=1e-3)
    samples = engine.generate(SOURCES[:1], to=1, sample=True, num_hypotheses=3)
    assert len(samples) == 1 and len(samples[0]) == 3
    both = engine.generate_many([(SOURCES, 1), (TARGETS, 0)])
    assert both == [[[t] for t in TARGETS], [[s] for s in SOURCES]]
    assert engine.count_unknown("any text at all ★") == (0, len(engine._tokens("any text at all ★")))
    with pytest.raises(TextcycleError, match="discriminator"):
        engine.style_logits(["x"])
    # built once: a second call finds the checked copy
    notes = []
    monkeypatch.setattr("textcycle.cache.print", lambda *a, **k: notes.append(a), raising=False)
    assert merged_copy(folder, quantization="float32") == ct2 and not notes


def test_a_gemma_format_model_prompts_and_stops_as_in_torch(tiny_gemma_base, tmp_path):
    """The engine builds a Gemma-format prompt as the torch generators do (<bos>, its turn
    markers) and stops at <end_of_turn>: the same greedy rewrites and scores."""
    torch.manual_seed(0)
    spec = LMSpec(base=str(tiny_gemma_base), lora_rank=8, prompt_format="gemma", max_new_tokens=8)
    gens = LMGenerators.build(spec)
    opt = torch.optim.AdamW([p for p in gens.parameters() if p.requires_grad], lr=5e-3)
    for _ in range(300):  # at 100 "great" and "friendly" were near tied, and another CPU's kernels flipped them
        loss = gens.token_loss(SOURCES, [1, 1], TARGETS)
        opt.zero_grad()
        loss.backward()
        opt.step()
    gens.eval()
    from textcycle.engines.lm_convert import convert_merged
    from textcycle.text.lm_format import PROMPT_FORMATS

    ct2 = convert_merged(gens, tmp_path, quantization="float32")
    engine = LMEngine(ct2, ["negative", "positive"], threads=1, max_new_tokens=8, fmt=PROMPT_FORMATS["gemma"])
    ids = [engine.tokenizer.token_to_id(t) for t in engine.prompt(SOURCES[0], 1)]
    assert ids == gens.prompt_ids(SOURCES[0], 1) and engine.prompt(SOURCES[0], 1)[0] == "<bos>"
    greedy = gens.generate(SOURCES, [1, 1])
    assert engine.generate(SOURCES, to=1) == greedy == [[t] for t in TARGETS]
    lp, n = gens.target_logprobs(SOURCES, [1, 1], TARGETS)
    assert engine.logprobs(SOURCES, TARGETS, 1).tolist() == pytest.approx((lp / n).tolist(), abs=1e-3)


def test_seeded_sampling_repeats(trained, cache):
    engine = LMEngine(merged_copy(trained[0], quantization="float32"), ["negative", "positive"], threads=1)
    runs = []
    for _ in range(2):
        engine.set_seed(7)
        runs.append(engine.generate(SOURCES, to=1, sample=True, temperature=2.0, num_hypotheses=4))
    assert runs[0] == runs[1]
    engine.set_seed(8)
    assert engine.generate(SOURCES, to=1, sample=True, temperature=2.0, num_hypotheses=4) != runs[0]


def test_a_changed_adapter_gets_its_own_copy(trained, cache, tmp_path):
    folder, gens = trained
    first = merged_copy(folder, quantization="float32")
    changed = LMGenerators.from_pretrained(folder)
    with torch.no_grad():
        for name, p in changed.lm.named_parameters():
            if "lora_B" in name:
                p.add_(0.01)
    changed.save_pretrained(tmp_path / "changed")
    second = merged_copy(tmp_path / "changed", quantization="float32")
    assert second != first and second.is_dir() and first.is_dir()


def test_the_rewriter_hands_the_lm_natural_text(trained, cache):
    rw = Rewriter.from_pretrained(trained[0], threads=1)
    assert rw.engine.name == "ctranslate2-lm" and rw.natural
    seen = []
    generate_many = rw.engine.generate_many
    rw.engine.generate_many = lambda requests, **o: seen.extend(requests) or generate_many(requests, **o)
    rows = rw.rewrite(["The food was bad. The staff was rude!", "the food was great"], details=True)
    # cased, punctuated and cut at the sentence end, not lowercased and tokenised as for a small model
    assert sorted(t for texts, _ in seen for t in texts) == [
        "The food was bad.",
        "The staff was rude!",
        "the food was great",
    ]
    assert [(r["detected_style"], r["target_style"]) for r in rows] == [
        ("negative", "positive"),
        ("positive", "negative"),
    ]
    assert all(isinstance(r["rewrite"], str) and r["style_probability"] is not None for r in rows)
    # for scoring, the output in the corpus form the evaluation reads
    natural = rw.rewrite(["The food was bad at 6:30, 2 times."], to=1)
    corpus = rw.rewrite(["The food was bad at 6:30, 2 times."], to=1, corpus_form=True)
    assert corpus == [yelp_tokenize(natural[0], numbers=False)]  # digits kept, as the references keep them


def test_rerank_scores_candidates_with_the_discriminator(trained, cache):
    rw = Rewriter.from_pretrained(trained[0], threads=1)
    rows = [rw.rewrite(["the food was bad"], to=1, rerank=4, seed=3, details=True, candidates=True) for _ in range(2)]
    assert rows[0] == rows[1]
    cands = rows[0][0]["candidates"]
    assert rows[0][0]["rewrite"] in [c["text"] for c in cands] and all("score" in c for c in cands)
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)


def test_the_torch_engine_is_refused_in_one_line(trained):
    with pytest.raises(TextcycleError, match="runs on CTranslate2"):
        Rewriter.from_pretrained(trained[0], engine="torch")


def test_once_built_the_rewrite_needs_no_torch(trained, cache):
    Rewriter.from_pretrained(trained[0], threads=1)  # builds the copy (torch, once)
    code = (
        "import sys; from textcycle.rewriter import Rewriter; "
        f"rw = Rewriter.from_pretrained({str(trained[0])!r}, threads=1); "
        "out = rw.rewrite(['the food was bad'], to=1); "
        "print(bool(out[0]), 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    env = {**os.environ, "TEXTCYCLE_CACHE": str(cache)}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "False", "False"]
    assert "building" not in r.stderr


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"style_names": ["a", "b", "c"]}, "style_names"),
        ({"language": "fr"}, "language"),
        ({"discriminator": {"vocab_size": 10**12}}, "discriminator"),
        ({"discriminator": None}, "discriminator"),
    ],
)
def test_bad_lm_model_configs_are_one_line_errors(trained, tmp_path, patch, message):
    folder = tmp_path / "m"
    shutil.copytree(trained[0], folder)
    config = json.loads((folder / "config.json").read_text())
    if isinstance(patch.get("discriminator"), dict):
        patch = {"discriminator": {**config["discriminator"], **patch["discriminator"]}}
    (folder / "config.json").write_text(json.dumps({**config, **patch}))
    with pytest.raises(TextcycleError, match=message):
        ModelFolder.open(folder)


def test_a_corrupt_adapter_is_one_line(trained, cache, tmp_path):
    folder = tmp_path / "corrupt"
    shutil.copytree(trained[0], folder)
    (folder / "adapter" / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(TextcycleError, match="cannot build its fast copy"):
        Rewriter.from_pretrained(folder, threads=1)


def test_a_gemma_copy_is_scored_one_row_at_a_time_and_never_as_a_batch(tmp_path):
    """CTranslate2's Gemma 3 cannot score a batch (it raises "Length mask ..." or crashes the
    process), so a converted Gemma (its `<bos>`) is never given one; other LMs are."""
    import json

    from textcycle.engines.lm import score_rows, scores_in_batches

    class Generator:
        def __init__(self):
            self.calls = []

        def score_batch(self, rows, max_batch_size=64):
            self.calls.append(len(rows))
            return [f"scored {r}" for r in rows]

    (tmp_path / "gemma").mkdir()
    (tmp_path / "gemma" / "config.json").write_text(json.dumps({"bos_token": "<bos>", "eos_token": "<eos>"}))
    (tmp_path / "smol").mkdir()
    (tmp_path / "smol" / "config.json").write_text(json.dumps({"bos_token": "<|im_start|>"}))
    assert not scores_in_batches(tmp_path / "gemma")
    assert scores_in_batches(tmp_path / "smol") and scores_in_batches(tmp_path / "missing")
    g = Generator()
    assert score_rows(g, [["a"], ["b"], ["c"]], batched=False) == ["scored ['a']", "scored ['b']", "scored ['c']"]
    assert g.calls == [1, 1, 1]
    assert score_rows(g, [["a"], ["b"]]) == ["scored ['a']", "scored ['b']"] and g.calls[-1] == 2
