"""Hold the line: every text command, run as a user would, on a table of hostile inputs.

For every case: no traceback; exit 0 or 2; an exit-2 error is one line; where the contract says
so, one output line per input line; no input file changed; no file outside the case's output
folder changed. (The image and PTT commands have their own tables in tests/image and tests/ptt.)
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_CONFIG, write_corpus

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": str(REPO),
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "CUDA_VISIBLE_DEVICES": "",
}

HOSTILE_LINES = [
    b"",
    b"   ",
    b"x" * 5000,
    b"great food \xf0\x9f\x98\x80\xf0\x9f\x8d\x95",
    "這家店的服務很差".encode(),
    "Очень плохо".encode(),
    b"nul\x00byte and \x07bell",
    b"form\x0cfeed",
    "line\u2028sep".encode(),
    b"bad \xff\xfe utf8",
    b"\t\ttabs\t",
    "\u200b\ufeffzero width".encode(),
    b"crlf line\r",
]


def snapshot(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run(args, cwd: Path, stdin: bytes = b""):
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=ENV, input=stdin, capture_output=True, timeout=600
    )


def check(r, out_dir: Path | None, before: dict, root: Path, lines_in: int | None = None):
    err = r.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err[-2000:]
    assert r.returncode in (0, 2), (r.returncode, err[-2000:])
    if r.returncode == 2:
        errors = [ln for ln in err.strip().splitlines() if not ln.startswith("warning:")]
        assert len(errors) == 1 and errors[0].startswith("error: "), err
    if lines_in is not None and r.returncode == 0:
        assert r.stdout.count(b"\n") == lines_in, (r.stdout, err)
    after = snapshot(root)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    allowed = str(out_dir.relative_to(root)) if out_dir else None
    outside = {k for k in changed if not (allowed and (k == allowed or k.startswith(allowed + os.sep)))}
    assert not outside, f"files changed outside the output folder: {sorted(outside)}"


@pytest.fixture
def sandbox(tmp_path, trained):
    """A working folder with a model, a corpus and input files, as a user would have."""
    import shutil

    shutil.copytree(trained / "final", tmp_path / "model")
    write_corpus(tmp_path / "data")
    (tmp_path / "in.txt").write_bytes(b"\n".join(HOSTILE_LINES) + b"\n")
    bad = tmp_path / "bad-model"
    shutil.copytree(trained / "final", bad)
    (bad / "generators.safetensors").write_bytes(b"\0" * 64)
    (tmp_path / "broken.yaml").write_text("train: [unclosed\n")
    return tmp_path


REWRITE_CASES = [
    ("stdin of hostile lines", ["-"], True),
    ("json of hostile lines", ["--json", "-"], True),
    ("missing model", ["--model", "no-such-folder", "hello"], False),
    ("corrupt model", ["--model", "bad-model", "hello"], False),
    ("unknown style", ["--to", "formal", "hello"], False),
    ("huge beam", ["--beam", "1000", "hello"], False),
    ("nan temperature", ["--sample", "--temperature", "nan", "hello"], False),
    ("rerank with beam", ["--rerank", "4", "--beam", "2", "hello"], False),
    ("nothing to rewrite", [], False),
]


@pytest.mark.parametrize("name, args, stdin", REWRITE_CASES, ids=[c[0] for c in REWRITE_CASES])
def test_rewrite(sandbox, name, args, stdin):
    before = snapshot(sandbox)
    model = [] if "--model" in args else ["--model", "model"]
    r = run(
        ["textcycle.rewrite", "--quiet", *model, *args], sandbox, (sandbox / "in.txt").read_bytes() if stdin else b""
    )
    check(r, None, before, sandbox, lines_in=len(HOSTILE_LINES) if stdin else None)
    if not stdin and name != "nothing to rewrite":
        assert r.returncode == 2


TRAIN_CASES = [
    ("broken yaml", ["--config", "broken.yaml"]),
    ("missing config", ["--config", "nope.yaml"]),
    ("zero batch", ["--config", TINY_CONFIG, "-o", "train.batch_size=0"]),
    ("missing data", ["--config", TINY_CONFIG, "-o", "data.path=no-such-data"]),
    ("zero keep", ["--config", TINY_CONFIG, "-o", "train.keep_checkpoints=0"]),
]


@pytest.mark.parametrize("name, args", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_train(sandbox, name, args):
    before = snapshot(sandbox)
    extra = ["-o", "data.path=data"] if "data.path=no-such-data" not in args and TINY_CONFIG in args else []
    r = run(["textcycle.train", *args, *extra, "-o", "train.output_dir=out"], sandbox)
    check(r, sandbox / "out", before, sandbox)
    assert r.returncode == 2 and not (sandbox / "out" / "checkpoints").exists()


def test_evaluate_and_data_commands(sandbox):
    before = snapshot(sandbox)
    for args in (
        ["textcycle.evaluate", "data", "--data", "data"],
        ["textcycle.evaluate", "no-such-dir"],
        ["textcycle.text.data", "--config", "broken.yaml"],
        ["textcycle.cli", "no-such-command"],
    ):
        r = run(args, sandbox)
        check(r, None, before, sandbox)
        assert r.returncode == 2
