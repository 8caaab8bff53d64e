"""The text model end to end on a tiny config: train, save/load, rewrite, resume, 2 processes."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import NEG_WORDS, POS_WORDS, make_sentences
from textcycle.errors import TextcycleError

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
TINY = str(REPO / "configs" / "tiny.yaml")


def write_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 300), ("dev", 40), ("test", 40)):
        for s, words in ((0, NEG_WORDS), (1, POS_WORDS)):
            lines = make_sentences(words, n, seed=10 * s + len(split))
            (root / f"sentiment.{split}.{s}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def train_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "textcycle.train", "--config", TINY, *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def rewrite_cli(*args, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "textcycle.rewrite", *args], cwd=REPO, env=ENV,
                          input=stdin, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny training run (in-process), shared by the tests below."""
    from textcycle.train import main

    root = tmp_path_factory.mktemp("tiny")
    data = write_corpus(root / "data")
    out = root / "run"
    assert main(["--config", TINY, "-o", f"data.path={data}", "-o", f"train.output_dir={out}"]) == 0
    return out


# ------------------------------------------------------------------ training outputs

def test_training_writes_model_checkpoints_and_curves(trained):
    final = trained / "final"
    for f in ("config.json", "tokenizer.model", "generators.safetensors", "discriminator.safetensors"):
        assert (final / f).is_file(), f
    assert not list(trained.rglob("*.bin")) and not list(trained.rglob("*.pt")), "weights must be safetensors"
    assert (trained / "curves.png").stat().st_size > 1000
    assert list((trained / "tensorboard").glob("events.*"))
    assert (trained / "best" / "dev_eval.json").is_file()
    summary = json.loads((trained / "train_summary.json").read_text())
    assert summary["steps"] == 20 and summary["processes"] == 1
    ckpts = sorted((trained / "checkpoints").iterdir())
    assert ckpts and len(ckpts) <= 3  # pruned to keep_checkpoints


def test_history_has_both_phases(trained):
    from textcycle.checkpoint import latest_checkpoint, load_checkpoint

    info = load_checkpoint(latest_checkpoint(trained / "checkpoints"), {}, {})
    phases = {row.get("phase") for row in info["history"]}
    assert {"warm", "rl"} <= phases
    rl_rows = [r for r in info["history"] if r.get("phase") == "rl"]
    assert any("rl/reward_to1" in r for r in rl_rows)


def test_save_load_roundtrip_gives_same_outputs(trained, tmp_path):
    from textcycle.model import TextCycleModel
    from textcycle.networks import decode

    m = TextCycleModel.from_pretrained(trained / "final")
    m.save_pretrained(tmp_path / "copy")
    m2 = TextCycleModel.from_pretrained(tmp_path / "copy")
    assert m2.generators[0].get_input_embeddings().weight is m2.generators[1].get_input_embeddings().weight
    ids = torch.tensor([m.tokenizer.encode_fast(["the food was bad ."], 16)[0]])
    mask = torch.ones_like(ids)
    for t in (0, 1):
        assert torch.equal(decode(m.generators[t], ids, mask, 10), decode(m2.generators[t], ids, mask, 10))


def test_fp16_export_is_smaller_and_loads(trained, tmp_path):
    from textcycle.model import TextCycleModel

    m = TextCycleModel.from_pretrained(trained / "final")
    m.save_pretrained(tmp_path / "half", dtype=torch.float16)
    full = (trained / "final" / "generators.safetensors").stat().st_size
    half = (tmp_path / "half" / "generators.safetensors").stat().st_size
    assert half < 0.6 * full
    assert TextCycleModel.from_pretrained(tmp_path / "half").generators[1].lm_head.weight.dtype == torch.float32


def test_existing_run_needs_resume(trained):
    r = train_cli("-o", f"train.output_dir={trained}", "-o", "data.path=unused")
    assert r.returncode == 2
    assert "--resume" in r.stderr and "Traceback" not in r.stderr


def test_bad_config_key_is_a_clear_error():
    r = train_cli("-o", "train.no_such_key=1")
    assert r.returncode == 2 and "no_such_key" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ rewrite

def test_rewriter_api(trained):
    from textcycle.rewrite import Rewriter

    rw = Rewriter.from_pretrained(trained / "final")
    assert rw.style_names == ["negative", "positive"]
    outs = rw.rewrite(["The food was bad.", "The staff is so great!"], to="positive")
    assert len(outs) == 2 and all(isinstance(o, str) for o in outs)
    d = rw.rewrite("the pizza was cold .", details=True)
    assert set(d) == {"source", "detected_style", "target_style", "rewrite", "style_probability"}
    assert d["target_style"] != d["detected_style"]
    assert 0.0 <= d["style_probability"] <= 1.0
    beam = rw.rewrite(["the room was dirty ."], to=1, beam=3)
    assert len(beam) == 1
    with pytest.raises(TextcycleError, match="unknown style"):
        rw.rewrite(["x"], to="formal")


def test_long_input_is_split_not_truncated(trained):
    from textcycle.rewrite import Rewriter
    from textcycle.textnorm import model_pieces

    assert model_pieces("a b c d e f g", "en", 3) == ["a b c", "d e f", "g"]
    assert model_pieces("good food . bad service !", "en", 10) == ["good food .", "bad service !"]
    rw = Rewriter.from_pretrained(trained / "final")
    out = rw.rewrite("the food was bad . " * 200, to="positive")
    assert len(out.split()) > 40  # every piece was rewritten


def test_numbers_come_back():
    from textcycle.textnorm import number_tokens, restore_numbers

    assert restore_numbers("waited _num_ minutes for _num_ pizzas", number_tokens("waited 45 minutes for 2 pizzas")) == \
        "waited 45 minutes for 2 pizzas"


def test_numbers_use_the_corpus_number_pattern():
    # bug: the rewriter had its own pattern that counted "6:30" as a number, so "6:30" went where "20" belongs
    from textcycle.textnorm import number_tokens, restore_numbers, yelp_tokenize

    src = "we arrived at 6:30 and paid 20 dollars for cold food ."
    assert yelp_tokenize(src) == "we arrived at 6:30 and paid _num_ dollars for cold food ."
    assert number_tokens(src) == ["20"]
    assert restore_numbers("we arrived at 6:30 and paid _num_ dollars for warm food .", number_tokens(src)) == \
        "we arrived at 6:30 and paid 20 dollars for warm food ."
    assert number_tokens("$1,000 for 2.5 hours , 3-4 people , the 2nd time") == ["1,000", "2.5"]


def test_rewrite_cli_order_json_and_stdin(trained):
    r = rewrite_cli("--model", str(trained / "final"), "the food was bad .", "the staff is so great !")
    assert r.returncode == 0, r.stderr.decode()
    assert len(r.stdout.decode().splitlines()) == 2
    r = rewrite_cli("--model", str(trained / "final"), "--json", "-", stdin="the room was dirty .\nthis coffee is so tasty !\n".encode())
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [x["source"] for x in rows] == ["the room was dirty .", "this coffee is so tasty !"]


def test_rewrite_cli_bad_input(trained):
    weird = ["", "   ", "x" * 5000, "great food 😀🍕", "這家店的服務很差", "c'est très bon"]
    r = rewrite_cli("--model", str(trained / "final"), *weird)
    assert r.returncode == 0, r.stderr.decode()
    assert len(r.stdout.decode("utf-8").split("\n")) - 1 == len(weird)
    assert "empty" in r.stderr.decode()
    r = rewrite_cli("--model", str(trained / "final"), "-", stdin=b"the food was bad .\n\xff\xfe broken\n")
    assert r.returncode == 0 and len(r.stdout.decode().splitlines()) == 2
    assert "not valid UTF-8" in r.stderr.decode()


def test_rewrite_cli_missing_and_corrupt_model(trained, tmp_path):
    r = rewrite_cli("--model", str(tmp_path / "nope"), "hello")
    assert r.returncode == 2 and b"model not found" in r.stderr and b"Traceback" not in r.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in (trained / "final").iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "generators.safetensors").write_bytes(b"\x00" * 100)
    r = rewrite_cli("--model", str(bad), "hello")
    assert r.returncode == 2 and b"corrupt" in r.stderr and b"Traceback" not in r.stderr
    (bad / "config.json").write_text("{not json")
    r = rewrite_cli("--model", str(bad), "hello")
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    r = rewrite_cli("--model", str(trained / "final"), "--to", "formal", "hello")
    assert r.returncode == 2 and b"unknown style" in r.stderr


# ------------------------------------------------------------------ resume and processes

@pytest.mark.slow
def test_sigkill_then_resume_reaches_the_same_final_step(tmp_path):
    data = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    args = ["--config", TINY, "-o", f"data.path={data}", "-o", f"train.output_dir={out}",
            "-o", "train.warm_steps=30", "-o", "train.rl_steps=10", "-o", "train.save_every=5"]
    p = subprocess.Popen([sys.executable, "-m", "textcycle.train", *args], cwd=REPO, env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list(out.glob("checkpoints/step-*")):
        assert p.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline, "no checkpoint within 300 s"
        time.sleep(0.2)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not (out / "final").exists()
    r = subprocess.run([sys.executable, "-m", "textcycle.train", *args, "--resume"], cwd=REPO, env=ENV,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from step" in r.stdout
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 40


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes(tmp_path):
    data = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                        "-m", "textcycle.train", "--config", TINY, "-o", f"data.path={data}",
                        "-o", f"train.output_dir={out}", "-o", "train.warm_steps=6", "-o", "train.rl_steps=4",
                        "-o", "train.bt_start=3"],
                       cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 process(es)" in r.stdout
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 10
    assert (out / "final" / "generators.safetensors").is_file()


def test_own_decode_matches_generate_greedy(trained):
    """textcycle's KV-cache loop must give exactly what transformers' generate() gives."""
    from textcycle.model import TextCycleModel
    from textcycle.networks import decode
    from textcycle.tokenizer import PAD_ID

    m = TextCycleModel.from_pretrained(trained / "final")
    rows = m.tokenizer.encode_fast(["the food was bad .", "this staff is so great !", "the room was cold ."], 16)
    n = max(map(len, rows))
    ids = torch.tensor([r + [PAD_ID] * (n - len(r)) for r in rows])
    mask = (ids != PAD_ID).long()
    for g in m.generators:
        ours = decode(g, ids, mask, 12)
        ref = g.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, num_beams=1, do_sample=False)[:, 1:]
        for a, b in zip(ours.tolist(), ref.tolist()):
            a = [t for t in a if t != PAD_ID]
            b = [t for t in b if t != PAD_ID]
            assert a[:len(b)] == b[:len(a)]
