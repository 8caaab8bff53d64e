"""The CTranslate2 engine (textcycle/ct2_engine.py) and its export (textcycle/ct2_export.py), against
the torch path on the bundled Yelp model: greedy outputs, log-probabilities, the numpy
discriminator, no torch import, and clear errors for missing or corrupt copies."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ctranslate2")

from textcycle.ct2_engine import CT2Engine, CT2Unavailable, has_ctranslate2  # noqa: E402
from textcycle.errors import TextcycleError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "textcycle" / "pretrained" / "yelp"
SHARED = Path(os.environ.get("TEXTCYCLE_SHARED_DATA", REPO.parent / "shared" / "data"))
LI = SHARED / "yelp" / "li2018"
N_PARITY = 200  # sentences per direction
FALLBACK = [
    "the food was cold and the waiter was rude .",
    "great pizza , friendly staff !",
    "i will never come back here .",
    "the room was clean and the bed was comfortable .",
    "worst service i have ever had .",
    "we loved the desserts .",
]


def _torch_api():
    """decode / sequence_logprobs / pad_batch from wherever the torch networks live now."""
    try:
        from textcycle.networks import decode, pad_batch, sequence_logprobs
    except ImportError:  # the older layout
        from textcycle.models.generator import decode, sequence_logprobs

        def pad_batch(seqs):
            import torch

            n = max(len(s) for s in seqs)
            ids = torch.zeros((len(seqs), n), dtype=torch.long)
            for i, s in enumerate(seqs):
                ids[i, : len(s)] = torch.tensor(s)
            return ids, (ids != 0).long()

    return decode, sequence_logprobs, pad_batch


def _digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def li_sentences(style: int, n: int = N_PARITY) -> list[str]:
    f = LI / f"sentiment.test.{style}"
    if not f.is_file():
        pytest.skip(f"Li et al. test sentences not found at {f} (shared data absent; set TEXTCYCLE_SHARED_DATA)")
    from textcycle.textnorm import normalize

    return [normalize(line.strip()) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()][:n]


@pytest.fixture(scope="module")
def torch_model():
    if not BUNDLED.is_dir():
        pytest.skip("the bundled Yelp model is not installed")
    import torch

    from textcycle.model import TextCycleModel

    torch.set_num_threads(2)
    return TextCycleModel.from_pretrained(BUNDLED)


@pytest.fixture(scope="module")
def f16_folder(tmp_path_factory, torch_model):
    """A copy of the bundled model with float16 CTranslate2 copies (the bundled weights are fp16
    values, so these are exact), made through the command line, in place."""
    from textcycle.ct2_export import main

    folder = tmp_path_factory.mktemp("f16") / "yelp"
    shutil.copytree(BUNDLED, folder)
    before = _digests(folder)
    assert main([str(folder), "--quantization", "float16"]) == 0
    assert _digests(folder) == before  # the other files are untouched
    assert sorted(p.name for p in (folder / "ct2").iterdir()) == ["manifest.json", "to_0", "to_1"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporaries left
    return folder


@pytest.fixture(scope="module")
def default_folder(tmp_path_factory, torch_model):
    """A copy with the default export (int8 layers, float16 embeddings), through the Python API."""
    import torch

    from textcycle.ct2_convert import DEFAULT_QUANTIZATION, export_ctranslate2

    folder = tmp_path_factory.mktemp("default") / "yelp"
    shutil.copytree(BUNDLED, folder)
    weights = {
        f"{t}.{k}": v.detach().clone() for t in (0, 1) for k, v in torch_model.generators[t].state_dict().items()
    }
    out = export_ctranslate2(torch_model, folder, DEFAULT_QUANTIZATION)
    assert out == folder / "ct2"
    # CTranslate2's int8 quantization writes into the tensors it is given: the export must not
    # change the model in memory (nor, through the shared embedding, the other generator)
    after = {f"{t}.{k}": v for t in (0, 1) for k, v in torch_model.generators[t].state_dict().items()}
    assert all(torch.equal(weights[k], after[k]) for k in weights)
    return folder


@pytest.fixture(scope="module")
def engine(f16_folder):
    return CT2Engine.from_folder(f16_folder, threads=2)


def _torch_greedy(model, ids, to, max_new=None):
    import torch

    decode, _, pad_batch = _torch_api()
    x, m = pad_batch(ids)
    with torch.no_grad():
        out = decode(model.generators[to], x, m, max_new or model.max_length + 8)
    return [[int(t) for t in row if t != 0] for row in out]


def _identical(a, b) -> int:
    return sum(x == y for x, y in zip(a, b))


# ---------------------------------------------------------------- parity with torch

_REFS: dict = {}


def torch_refs(torch_model, source: int):
    """(ids, torch greedy rewrites) of the first N_PARITY Li test sentences of `source`, once."""
    if source not in _REFS:
        ids = torch_model.tokenizer.encode_fast(li_sentences(source), torch_model.max_length)
        _REFS[source] = ids, _torch_greedy(torch_model, ids, 1 - source)
    return _REFS[source]


@pytest.mark.parametrize("source", [0, 1])
def test_greedy_matches_torch_in_float32(engine, torch_model, source):
    assert engine.compute_type == "float32" and engine.quantization == "float16"
    ids, ref = torch_refs(torch_model, source)
    got = [h[0] for h in engine.generate(ids, 1 - source)]
    same = _identical(ref, got)
    assert same >= 0.99 * len(ids), f"{same}/{len(ids)} identical"
    assert engine.decode(got) == torch_model.tokenizer.decode_fast(got)


def test_default_export_matches_torch_in_float32(default_folder, torch_model):
    eng = CT2Engine.from_folder(default_folder)
    assert eng.quantization == "int8_embed_float16" and eng.compute_type == "float32"
    same = total = 0
    for source in (0, 1):
        ids, ref = torch_refs(torch_model, source)
        same += _identical(ref, [h[0] for h in eng.generate(ids, 1 - source)])
        total += len(ids)
    assert same >= 0.97 * total, f"{same}/{total}"  # 993/1000 measured on the full test set


def test_generate_many_runs_both_directions_side_by_side_with_the_same_outputs(engine):
    neg, pos = engine.encode(FALLBACK[0::2]), engine.encode(FALLBACK[1::2])
    both = engine.generate_many([(neg, 1), (pos, 0), ([], 1)])
    assert both == [engine.generate(neg, 1), engine.generate(pos, 0), []]
    beams = engine.generate_many([(neg, 1), (pos, 0)], beam=3, num_hypotheses=2)
    assert beams == [
        engine.generate(neg, 1, beam=3, num_hypotheses=2),
        engine.generate(pos, 0, beam=3, num_hypotheses=2),
    ]
    engine.set_seed(5)  # seeded sampling: one request after the other, reproducible
    s1 = engine.generate_many([(neg, 1), (pos, 0)], sample=True, num_hypotheses=2)
    engine.set_seed(5)
    assert engine.generate_many([(neg, 1), (pos, 0)], sample=True, num_hypotheses=2) == s1
    engine._seed = None
    with pytest.raises(TextcycleError, match="generator index"):
        engine.generate_many([(neg, 1), (pos, 2)])


def test_rewriter_with_both_directions_in_one_call_matches_one_direction_at_a_time(f16_folder):
    from textcycle.rewrite import Rewriter

    rw = Rewriter.from_pretrained(f16_folder)
    mixed = rw.rewrite(FALLBACK, details=True, batch_size=2)  # 3 + 3 texts in chunks of 2: 4 engine requests
    assert {r["target_style"] for r in mixed} == {"negative", "positive"}
    for row in mixed:
        alone = rw.rewrite(row["source"], to=row["target_style"], details=True)
        assert (row["rewrite"], row["style_probability"]) == (alone["rewrite"], alone["style_probability"])


def test_cut_at_max_new_tokens_like_torch(engine, torch_model):
    ids = engine.encode(FALLBACK)
    got = [h[0] for h in engine.generate(ids, 1, max_new_tokens=3)]
    assert got == _torch_greedy(torch_model, ids, 1, max_new=3)
    assert all(len(g) <= 4 and g[-1] == 3 for g in got)


def test_logprobs_match_torch(engine, torch_model):
    import torch

    _, sequence_logprobs, pad_batch = _torch_api()
    src = engine.encode(li_sentences(0, 100))
    hyp = [h[0] for h in engine.generate(src, 1)]
    x, xm = pad_batch(hyp)
    y, _ = pad_batch(src)
    for norm in (True, False):
        with torch.no_grad():
            ref = sequence_logprobs(torch_model.generators[0], x, xm, y, normalize=norm).numpy()
        got = engine.logprobs(hyp, src, 0, normalize=norm)
        assert got.shape == (len(src),) and got.dtype == np.float32
        assert np.abs(got - ref).max() < 1e-3
    # trailing padding after </s> is ignored, as torch ignores pad positions
    padded = engine.logprobs(hyp, [s + [0, 0] for s in src], 0)
    assert np.allclose(padded, engine.logprobs(hyp, src, 0))


def test_numpy_discriminator_matches_torch(engine, torch_model):
    import torch

    _, _, pad_batch = _torch_api()
    try:
        sents = li_sentences(0, 500) + li_sentences(1, 500)
    except pytest.skip.Exception:
        sents = FALLBACK
    ids = engine.encode(sents)
    long_row = (ids[0][:-1] * 20)[:90] + [3]  # longer than the discriminator's 64: cut as torch cuts
    ids = ids + [long_row]
    with torch.no_grad():
        ref = torch_model.discriminator(pad_batch(ids)[0]).numpy()
    got = engine.style_logits(ids)
    assert got.shape == (len(ids), 3)
    assert np.abs(got - ref).max() < 1e-3
    assert (got.argmax(1) == ref.argmax(1)).all()
    p = engine.style_probs(ids[:4])
    assert p.shape == (4, 2) and np.allclose(p.sum(1), 1)


def test_encode_decode_match_the_tokenizer(engine, torch_model):
    tok = torch_model.tokenizer
    texts = FALLBACK + ["a " * 60]  # one longer than max_length
    assert engine.encode(texts) == tok.encode_fast(texts, torch_model.max_length)
    rows = [[2, 50, 60, 3, 70], [1, 80, 0, 90], [3]]
    assert engine.decode(rows) == tok.decode_fast(rows)


# ---------------------------------------------------------------- decoding modes


def _valid(h, vocab):
    return h and h[-1] == 3 and 3 not in h[:-1] and all(3 < t < vocab or t == 1 for t in h[:-1])


def test_beam_and_sampling_give_valid_outputs(engine):
    ids = engine.encode(FALLBACK)
    beam = engine.generate(ids, 1, beam=4, num_hypotheses=2)
    assert [len(r) for r in beam] == [2] * len(ids)
    assert all(_valid(h, engine.vocab_size) for r in beam for h in r)
    s1 = engine.generate(ids, 0, sample=True, num_hypotheses=3, temperature=0.8, seed=1)
    s2 = engine.generate(ids, 0, sample=True, num_hypotheses=3, temperature=0.8, seed=1)
    assert s1 == s2  # seeded
    assert [len(r) for r in s1] == [3] * len(ids)
    assert all(_valid(h, engine.vocab_size) for r in s1 for h in r)
    assert len({tuple(h) for r in s1 for h in r}) > len(ids)  # samples differ
    assert engine.generate([], 1) == [] and engine.logprobs([], [], 1).shape == (0,)
    with pytest.raises(TextcycleError):
        engine.generate(ids, 1, num_hypotheses=2)  # greedy has one hypothesis
    with pytest.raises(TextcycleError):
        engine.generate([[9000, 3]], 1)  # out of the vocabulary


# ---------------------------------------------------------------- no torch on this path


def test_engine_never_imports_torch(f16_folder):
    code = f"""
import sys
from textcycle.ct2_engine import CT2Engine, has_ctranslate2
assert has_ctranslate2({str(f16_folder)!r})
e = CT2Engine.from_folder({str(f16_folder)!r}, threads=1)
ids = e.encode(["the food was cold ."])
out = e.generate(ids, 1)
e.generate(ids, 1, sample=True, num_hypotheses=2, seed=0)
e.generate(ids, 1, beam=2)
e.logprobs([h[0] for h in out], ids, 0)
e.style_logits(ids)
print(e.decode([h[0] for h in out])[0])
bad = [m for m in ("torch", "transformers") if m in sys.modules]
assert not bad, bad
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip()


# ---------------------------------------------------------------- missing and corrupt copies


def test_folder_without_ct2_is_unavailable(tmp_path):
    if not BUNDLED.is_dir():
        pytest.skip("the bundled Yelp model is not installed")
    folder = tmp_path / "plain"
    shutil.copytree(BUNDLED, folder, ignore=shutil.ignore_patterns("ct2"))
    assert not has_ctranslate2(folder)
    assert not has_ctranslate2(tmp_path / "nowhere")
    with pytest.raises(CT2Unavailable, match="ct2_export"):
        CT2Engine.from_folder(folder)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_truncated_model_bin_is_a_clear_error(f16_folder, tmp_path):
    folder = _copy(f16_folder, tmp_path / "trunc")
    mb = folder / "ct2" / "to_1" / "model.bin"
    with open(mb, "r+b") as fh:
        fh.truncate(mb.stat().st_size // 3)
    assert has_ctranslate2(folder)  # still looks like a copy; loading says what is wrong
    for verify in (True, False):
        with pytest.raises(TextcycleError) as e:
            CT2Engine.from_folder(folder, verify=verify)
        assert not isinstance(e.value, CT2Unavailable)
        assert "truncated" in str(e.value) and "\n" not in str(e.value)


def test_corrupt_files_are_clear_errors(f16_folder, tmp_path):
    folder = _copy(f16_folder, tmp_path / "flip")
    mb = folder / "ct2" / "to_0" / "model.bin"
    data = bytearray(mb.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    mb.write_bytes(bytes(data))
    with pytest.raises(TextcycleError, match="checksum"):
        CT2Engine.from_folder(folder)
    # without the checksum, CTranslate2's own error still comes back as one line (header bytes)
    data[:8] = b"garbage!"
    mb.write_bytes(bytes(data))
    with pytest.raises(TextcycleError) as e:
        CT2Engine.from_folder(folder, verify=False)
    assert "\n" not in str(e.value)

    folder = _copy(f16_folder, tmp_path / "manifest")
    (folder / "ct2" / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TextcycleError, match="corrupt"):
        CT2Engine.from_folder(folder)

    folder = _copy(f16_folder, tmp_path / "disc")
    d = folder / "discriminator.safetensors"
    d.write_bytes(d.read_bytes()[:1000])
    with pytest.raises(TextcycleError, match="discriminator"):
        CT2Engine.from_folder(folder)


def test_stale_copy_is_unavailable(f16_folder, tmp_path):
    folder = _copy(f16_folder, tmp_path / "stale")
    with open(folder / "generators.safetensors", "ab") as fh:
        fh.write(b" ")  # the torch weights changed after the export
    with pytest.raises(CT2Unavailable, match="stale"):
        CT2Engine.from_folder(folder)


def test_export_command_errors(tmp_path):
    from textcycle.ct2_export import main

    assert main([str(tmp_path)]) == 2  # not a model folder: one line, exit 2
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--quantization", "int3"])
