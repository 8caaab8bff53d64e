"""The CTranslate2 engine (textcycle/engines/ct2.py) and its export (textcycle/ct2_export.py): the
interface on texts and on ids, decoding modes, no torch import, and clear errors for missing or
corrupt copies. Parity with the torch reference: test_parity.py."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from textcycle.engines.base import Hypothesis
from textcycle.engines.ct2 import CT2Engine, CT2Unavailable
from textcycle.engines.ct2_format import has_copy
from textcycle.errors import TextcycleError
from textcycle.model_folder import ModelFolder

from .conftest import BUNDLED, FALLBACK, REPO


def open_engine(folder, **kw):
    return CT2Engine.from_folder(ModelFolder.open(folder), **kw)


def test_generate_many_runs_both_directions_side_by_side_with_the_same_outputs(engine):
    neg, pos = engine.encode(FALLBACK[0::2]), engine.encode(FALLBACK[1::2])
    both = engine.generate_many_ids([(neg, 1), (pos, 0), ([], 1)])
    assert both == [engine.generate_ids(neg, 1), engine.generate_ids(pos, 0), []]
    beams = engine.generate_many_ids([(neg, 1), (pos, 0)], beam=3, num_hypotheses=2)
    assert beams == [
        engine.generate_ids(neg, 1, beam=3, num_hypotheses=2),
        engine.generate_ids(pos, 0, beam=3, num_hypotheses=2),
    ]
    engine.set_seed(5)  # seeded sampling: one request after the other, reproducible
    s1 = engine.generate_many_ids([(neg, 1), (pos, 0)], sample=True, num_hypotheses=2)
    engine.set_seed(5)
    assert engine.generate_many_ids([(neg, 1), (pos, 0)], sample=True, num_hypotheses=2) == s1
    engine._seed = None
    with pytest.raises(TextcycleError, match="generator index"):
        engine.generate_many_ids([(neg, 1), (pos, 2)])


def test_texts_in_and_out_and_hypotheses_keep_their_ids(engine):
    [[h]] = engine.generate(["the food was cold ."], 1)
    assert isinstance(h, Hypothesis) and h.owner is engine and h.ids[-1] == 3
    assert h == engine.decode([h.ids])[0]
    assert engine.token_ids([h, str(h)]) == [h.ids, engine.encode([str(h)])[0]]
    other = Hypothesis(str(h), [9, 9, 3], owner=object())  # another engine's: tokenised again
    assert engine.token_ids([other]) == engine.encode([str(h)])
    both = engine.generate_many([(FALLBACK[:2], 1), (FALLBACK[2:3], 0)])
    assert [[list(r) for r in b] for b in both] == [engine.generate(FALLBACK[:2], 1), engine.generate(FALLBACK[2:3], 0)]
    assert engine.style_logits(FALLBACK).shape == (len(FALLBACK), 3)
    assert engine.count_unknown("the food") == (0, 2)
    assert engine.count_unknown("😡")[0] == 1


def test_rewriter_with_both_directions_in_one_call_matches_one_direction_at_a_time(f16_folder):
    from textcycle.rewrite import Rewriter

    rw = Rewriter.from_pretrained(f16_folder)
    mixed = rw.rewrite(FALLBACK, details=True, batch_size=2)  # 3 + 3 texts in chunks of 2: 4 engine requests
    assert {r["target_style"] for r in mixed} == {"negative", "positive"}
    for row in mixed:
        alone = rw.rewrite(row["source"], to=row["target_style"], details=True)
        assert (row["rewrite"], row["style_probability"]) == (alone["rewrite"], alone["style_probability"])


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
    beam = engine.generate_ids(ids, 1, beam=4, num_hypotheses=2)
    assert [len(r) for r in beam] == [2] * len(ids)
    assert all(_valid(h, engine.vocab_size) for r in beam for h in r)
    s1 = engine.generate_ids(ids, 0, sample=True, num_hypotheses=3, temperature=0.8, seed=1)
    s2 = engine.generate_ids(ids, 0, sample=True, num_hypotheses=3, temperature=0.8, seed=1)
    assert s1 == s2  # seeded
    assert [len(r) for r in s1] == [3] * len(ids)
    assert all(_valid(h, engine.vocab_size) for r in s1 for h in r)
    assert len({tuple(h) for r in s1 for h in r}) > len(ids)  # samples differ
    assert engine.generate_ids([], 1) == [] and engine.logprobs_ids([], [], 1).shape == (0,)
    assert engine.generate([], 1) == [] and engine.style_logits([]).shape == (0, 3)
    with pytest.raises(TextcycleError):
        engine.generate_ids(ids, 1, num_hypotheses=2)  # greedy has one hypothesis
    with pytest.raises(TextcycleError):
        engine.generate_ids([[9000, 3]], 1)  # out of the vocabulary


# ---------------------------------------------------------------- no torch on this path


def test_engine_never_imports_torch(f16_folder):
    code = f"""
import sys
from textcycle.engines.ct2 import CT2Engine
from textcycle.model_folder import ModelFolder
folder = ModelFolder.open({str(f16_folder)!r})
assert folder.has_ct2
e = CT2Engine.from_folder(folder, threads=1)
out = e.generate(["the food was cold ."], 1)
e.generate(["the food was cold ."], 1, sample=True, num_hypotheses=2)
e.generate(["the food was cold ."], 1, beam=2)
e.logprobs([h[0] for h in out], ["the food was cold ."], 0)
e.style_logits(["the food was cold ."])
print(out[0][0])
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
    assert not ModelFolder.open(folder).has_ct2
    assert not has_copy(tmp_path / "nowhere")
    with pytest.raises(CT2Unavailable, match="ct2_export"):
        open_engine(folder)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_truncated_model_bin_is_a_clear_error(f16_folder, tmp_path):
    folder = _copy(f16_folder, tmp_path / "trunc")
    mb = folder / "ct2" / "to_1" / "model.bin"
    with open(mb, "r+b") as fh:
        fh.truncate(mb.stat().st_size // 3)
    assert ModelFolder.open(folder).has_ct2  # still looks like a copy; loading says what is wrong
    for verify in (True, False):
        with pytest.raises(TextcycleError) as e:
            open_engine(folder, verify=verify)
        assert not isinstance(e.value, CT2Unavailable)
        assert "truncated" in str(e.value) and "\n" not in str(e.value)


def test_corrupt_files_are_clear_errors(f16_folder, tmp_path):
    folder = _copy(f16_folder, tmp_path / "flip")
    mb = folder / "ct2" / "to_0" / "model.bin"
    data = bytearray(mb.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    mb.write_bytes(bytes(data))
    with pytest.raises(TextcycleError, match="checksum"):
        open_engine(folder)
    # without the checksum, CTranslate2's own error still comes back as one line (header bytes)
    data[:8] = b"garbage!"
    mb.write_bytes(bytes(data))
    with pytest.raises(TextcycleError) as e:
        open_engine(folder, verify=False)
    assert "\n" not in str(e.value)

    folder = _copy(f16_folder, tmp_path / "manifest")
    (folder / "ct2" / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TextcycleError, match="corrupt"):
        open_engine(folder)

    folder = _copy(f16_folder, tmp_path / "disc")
    d = folder / "discriminator.safetensors"
    d.write_bytes(d.read_bytes()[:1000])
    with pytest.raises(TextcycleError, match="discriminator"):
        open_engine(folder)


def test_stale_copy_is_unavailable(f16_folder, tmp_path):
    folder = _copy(f16_folder, tmp_path / "stale")
    with open(folder / "generators.safetensors", "ab") as fh:
        fh.write(b" ")  # the torch weights changed after the export
    with pytest.raises(CT2Unavailable, match="stale"):
        open_engine(folder)


def test_export_command_errors(tmp_path):
    from textcycle.ct2_export import main

    assert main([str(tmp_path)]) == 2  # not a model folder: one line, exit 2
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--quantization", "int3"])
