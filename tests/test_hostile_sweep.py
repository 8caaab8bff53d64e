"""Issue 24, the text side: what a hostile-input sweep found in configs, training, checkpoints and
evaluation. Each test failed before its fix. (The PTT and image parts: tests/ptt/test_hostile_limits.py
and tests/image/test_hostile_sweep.py.)"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_CONFIG, write_corpus
from conftest import write_lines as _write
from safetensors.torch import load_file
from test_checkpoint import tiny_parts

from textcycle.checkpoint import load_checkpoint, resume_latest, save_checkpoint
from textcycle.config import config_yaml, load_config
from textcycle.errors import ConfigError, TextcycleError
from textcycle.evaluate.testset import load_testset, unique_names
from textcycle.text.config import TextCycleConfig

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


def one_error_line(err: str, needle: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err[-3000:]
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------------------------
# 1. a YAML alias bomb; long values in messages


def alias_bomb(levels: int = 9) -> str:
    """`- &a [lol x9]`, `- &b [*a x9]`, ...: 9^levels strings once expanded."""
    names = [chr(ord("a") + i) for i in range(levels)]
    lines = ["bomb:", f"  - &{names[0]} [" + ", ".join(['"lol"'] * 9) + "]"]
    for prev, name in zip(names, names[1:]):
        lines.append(f"  - &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_before_anything_expands_it(tmp_path):
    """Before: the type error printed the expanded value (39 MB at 7 levels, MemoryError at 9)."""
    text = alias_bomb().replace("bomb:", "train:\n  batch_size:").replace("\n  - ", "\n    - ")
    (tmp_path / "bomb.yaml").write_text(text)
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="aliases are not allowed") as e:
        load_config(tmp_path / "bomb.yaml", TextCycleConfig)
    assert time.monotonic() - t0 < 5 and len(str(e.value)) < 300 and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="aliases are not allowed"):  # an override is YAML too
        load_config(None, TextCycleConfig, ["train.batch_size=[&a [1, 2], *a, *a]"])
    r = subprocess.run(
        [sys.executable, "-m", "textcycle.train", "--config", str(tmp_path / "bomb.yaml")],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and len(r.stderr) < 400
    one_error_line(r.stderr, "aliases are not allowed")


@pytest.mark.parametrize(
    "override, needle",
    [
        ("train.batch_size=" + "x" * 1_000_000, "expected an integer"),
        ("train.baseline=" + "y" * 1_000_000, "allowed greedy, mean"),
        ("train.lr=[" + ", ".join(["1"] * 100_000) + "]", "expected a number"),
        ("train." + "k" * 100_000 + "=1", "unknown key"),
        ("data.max_train_per_style=-" + "9" * 4000, "allowed null"),
        ("train.batch_size=" + "[" * 5000 + "]" * 5000, "nested too deeply"),
        ("train.batch_size=" + "7" * 5000, "not valid YAML"),
    ],
)
def test_a_bad_value_is_quoted_by_a_short_prefix(override, needle):
    from textcycle.text.config import validate_text_config

    with pytest.raises(ConfigError, match=needle) as e:
        validate_text_config(load_config(None, TextCycleConfig, [override]))
    assert len(str(e.value)) < 1000 and "\n" not in str(e.value)  # the known keys take 600


def test_shown_cuts_long_values():
    from textcycle.config import shown

    assert shown("abc") == "'abc'" and shown(3) == "3" and shown("abc", quote=False) == "abc"
    assert len(shown("x" * 10**6)) <= 80 and len(shown([[1] * 1000] * 1000)) <= 80
    assert shown("a\nb", quote=False) == "'a\\nb'"  # one line, always


# ---------------------------------------------------------------------------------------------
# 7, 9, 21: the run folder


def train_main(*args) -> int:
    from textcycle.text.train import main

    return main(["--config", TINY_CONFIG, *args])


def test_a_users_config_in_the_run_folder_is_never_replaced(tmp_path, capsys):
    """Before: `train --config D/config.yaml -o train.output_dir=D` replaced the user's own
    config.yaml (comments and all) by the normalised dump, silently."""
    data = write_corpus(tmp_path / "data")
    run = tmp_path / "D"
    run.mkdir()
    mine = "# my experiment: keep this comment\n" + Path(TINY_CONFIG).read_text().replace(
        "tests/data-not-set", str(data)
    ).replace("runs/tiny", str(run))
    (run / "config.yaml").write_text(mine)
    assert train_main("--config", str(run / "config.yaml"), "-o", f"train.output_dir={run}") == 2
    one_error_line(capsys.readouterr().err, "is not a config this trainer wrote")
    assert (run / "config.yaml").read_text() == mine and sorted(p.name for p in run.iterdir()) == ["config.yaml"]
    # the same file given with another --config: refused too
    assert train_main("-o", f"data.path={data}", "-o", f"train.output_dir={run}") == 2
    assert (run / "config.yaml").read_text() == mine


def test_a_config_the_trainer_wrote_may_be_replaced_but_not_the_config_file_itself(tmp_path):
    from textcycle.config import check_run_config

    cfg = load_config(TINY_CONFIG, TextCycleConfig, [f"train.output_dir={tmp_path}"])
    saved = tmp_path / "config.yaml"
    saved.write_text(config_yaml(load_config(TINY_CONFIG, TextCycleConfig)))  # an earlier run's record
    check_run_config(saved, TINY_CONFIG, cfg)  # another --config: the record is the trainer's, fine
    check_run_config(saved, saved, load_config(saved, TextCycleConfig))  # resuming with the record itself
    with pytest.raises(ConfigError, match="is the run's own record"):  # ... which overrides would change
        check_run_config(saved, saved, load_config(saved, TextCycleConfig, ["train.rl_steps=99"]))
    saved.write_text(saved.read_text() + "# a note\n")
    with pytest.raises(ConfigError, match="not a config this trainer wrote"):
        check_run_config(saved, TINY_CONFIG, cfg)


@pytest.mark.parametrize("where", ["data", "data/run", "link/run", "link"])
def test_a_run_folder_inside_the_data_is_refused(tmp_path, capsys, where):
    """Before: accepted, so the run's files landed among the data (an image run's curves.png
    became a training image)."""
    data = write_corpus(tmp_path / "data")
    (tmp_path / "link").symlink_to(data)
    before = sorted(p.name for p in data.iterdir())
    assert train_main("-o", f"data.path={data}", "-o", f"train.output_dir={tmp_path / where}") == 2
    one_error_line(capsys.readouterr().err, "the data folder")
    assert sorted(p.name for p in data.iterdir()) == before


@pytest.mark.parametrize("out", ["afile", "afile/run"])
def test_a_run_folder_that_is_a_file_is_one_line_before_any_work(tmp_path, capsys, out):
    """Before: a NotADirectoryError traceback."""
    data = write_corpus(tmp_path / "data")
    (tmp_path / "afile").write_text("mine")
    t0 = time.monotonic()
    assert train_main("-o", f"data.path={data}", "-o", f"train.output_dir={tmp_path / out}") == 2
    one_error_line(capsys.readouterr().err, "is a file, not a folder")
    assert (tmp_path / "afile").read_text() == "mine" and time.monotonic() - t0 < 10


# ---------------------------------------------------------------------------------------------
# 13, 14: reproducible runs; a checkpoint without its random state


def run_weights(out: Path) -> dict:
    """{file: tensors} of the final model and of every checkpoint's networks."""
    files = [*(out / "final").glob("*.safetensors"), *(out / "checkpoints").glob("*/*.safetensors")]
    return {str(f.relative_to(out)): load_file(str(f)) for f in files if not f.name.endswith(".state.safetensors")}


def test_two_runs_of_one_config_give_identical_weights(tmp_path):
    """Before: two identical tiny runs differed by up to 0.0025 in weights: the self-training
    round sampled its candidates from an unseeded CTranslate2. Every phase runs here (warm
    start, a self-training round, cycle-RL)."""
    data = write_corpus(tmp_path / "data")
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert train_main("-o", f"data.path={data}", "-o", f"train.output_dir={out}") == 0
        runs.append(out)
    last = sorted((runs[0] / "checkpoints").iterdir())[-1]
    phases = {row.get("phase") for row in json.loads((last / "state.json").read_text())["history"]}
    assert {"warm", "selftrain", "rl"} <= phases
    pairs = [json.loads((out / "selftrain" / "round-0.json").read_text())["pairs"] for out in runs]
    assert pairs[0] == pairs[1]
    a, b = run_weights(runs[0]), run_weights(runs[1])
    assert a.keys() == b.keys() and len(a) > 1
    for key in a:
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)


def test_a_checkpoint_without_its_random_state_is_skipped_with_a_warning(tmp_path):
    """Before: it resumed silently, and the resumed run's weights then differed from the
    uninterrupted run's."""
    net, opt = tiny_parts()
    for step in (5, 10):
        save_checkpoint(tmp_path, step, {"net": net}, {"opt": opt}, {})
    (tmp_path / "step-000010" / "rng.state.json").unlink()
    said = []
    ckpt, info = resume_latest(tmp_path, {"net": net}, {"opt": opt}, log=said.append)
    assert ckpt.name == "step-000005" and info["step"] == 5
    assert any("rng.state" in s and s.startswith("warning:") for s in said)
    with pytest.raises(TextcycleError, match="rng.state"):
        load_checkpoint(tmp_path / "step-000010", {"net": net}, {"opt": opt})
    (tmp_path / "step-000005" / "rng.state.json").write_text('{"__dict__": []}')  # readable, but not a state
    with pytest.raises(TextcycleError, match="no intact checkpoint"):
        resume_latest(tmp_path, {"net": net}, {"opt": opt}, log=said.append)


# ---------------------------------------------------------------------------------------------
# 19: a full disk while saving

ENOSPC_SAFETENSORS = (
    "Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "
    '"No space left on device" })'
)  # what safetensors raises on a full disk


def full_disk(tensors, filename, metadata=None):
    """safetensors' save_file on a full disk: part of the file written, then SafetensorError.
    (Not a save to /dev/full: safetensors replaces the file it is given, /dev/full included.)"""
    from safetensors import SafetensorError

    Path(filename).write_bytes(b"\0" * 100)
    raise SafetensorError(ENOSPC_SAFETENSORS)


def test_a_checkpoint_on_a_full_disk_is_one_line_naming_the_last_good_one(tmp_path, monkeypatch):
    """Before: a SafetensorError traceback (the intact checkpoints were kept)."""
    import textcycle.checkpoint as ck

    net, opt = tiny_parts()
    save_checkpoint(tmp_path, 5, {"net": net}, {"opt": opt}, {})
    monkeypatch.setattr(ck, "save_file", full_disk)
    with pytest.raises(TextcycleError) as e:
        save_checkpoint(tmp_path, 10, {"net": net}, {"opt": opt}, {})
    msg = str(e.value)
    assert "\n" not in msg and "step-000010" in msg and "the last good checkpoint is" in msg
    assert "step-000005" in msg and sorted(p.name for p in tmp_path.iterdir()) == ["step-000005"]


def test_training_on_a_full_disk_exits_2_naming_the_checkpoint_to_resume(tmp_path, monkeypatch, capsys):
    import textcycle.checkpoint as ck

    data = write_corpus(tmp_path / "data")
    real = ck.save_file

    def save_file(tensors, filename, metadata=None):  # the disk fills up after the first checkpoint
        return (real if "step-000005" in filename else full_disk)(tensors, filename, metadata=metadata)

    monkeypatch.setattr(ck, "save_file", save_file)
    assert (
        train_main(
            "-o",
            f"data.path={data}",
            "-o",
            f"train.output_dir={tmp_path / 'run'}",
            "-o",
            "train.rl_steps=0",
            "-o",
            "train.selftrain_rounds=0",
            "-o",
            "train.eval_every=100",
        )
        == 2
    )
    err = capsys.readouterr().err
    errors = re.findall(r"error: [^\r\n]*", err)  # after a progress bar's line
    assert len(errors) == 1 and "Traceback" not in err
    line = errors[0]
    assert "the last good checkpoint is" in line and "step-000010" in line
    assert str(tmp_path / "run" / "checkpoints" / "step-000005") in line
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step-000005"]


# ---------------------------------------------------------------------------------------------
# 12, 19, 20: evaluate


def test_one_system_folder_given_twice_is_refused(tmp_path, tiny_yelp, capsys):
    """Before: `evaluate DIR DIR_SYMLINK --json` (or DIR twice) merged two systems into one entry."""
    from textcycle.evaluate.__main__ import main

    ts = load_testset(tiny_yelp)
    _write(tmp_path / "mine" / "neg2pos.txt", ts.refs4[0][1])
    _write(tmp_path / "mine" / "pos2neg.txt", ts.refs4[1][1])
    (tmp_path / "link").symlink_to(tmp_path / "mine")
    for pair in (["mine", "link"], ["mine", "mine"], ["mine", "./mine/"]):
        argv = [str(tmp_path / pair[0]), str(tmp_path) + "/" + pair[1], "--data", str(tiny_yelp), "--json"]
        assert main(argv) == 2
        one_error_line(capsys.readouterr().err, "the same system folder is given twice")
    with pytest.raises(TextcycleError, match="given twice"):
        unique_names([str(tmp_path / "mine"), str(tmp_path / "other" / ".." / "mine")])
    assert unique_names([str(tmp_path / "a" / "mine"), str(tmp_path / "b" / "mine")]) == ["a/mine", "b/mine"]


def test_leaderboard_out_is_checked_before_the_scoring(tmp_path, monkeypatch, capsys):
    """Before: `--leaderboard --out EXISTING_FILE` was a FileExistsError traceback after all the scoring."""
    import textcycle.evaluate.leaderboard as lb
    from textcycle.evaluate.__main__ import main

    monkeypatch.setattr(lb, "run_leaderboard", lambda *a, **k: pytest.fail("scored before checking --out"))
    (tmp_path / "afile").write_text("mine")
    for out in ("afile", "afile/board"):
        assert main(["--leaderboard", "--data", str(tmp_path / "no-data"), "--out", str(tmp_path / out)]) == 2
        one_error_line(capsys.readouterr().err, "is a file, not a folder")
    assert (tmp_path / "afile").read_text() == "mine"


def test_leaderboard_on_a_full_disk_is_one_line_and_leaves_no_file(tmp_path, monkeypatch):
    """Before: a traceback."""
    import textcycle.files as files
    from textcycle.evaluate.leaderboard import write_leaderboard

    if not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)):
        pytest.skip("no /dev/full device")
    real = files.tempfile.mkstemp

    def mkstemp(prefix="", dir=None, **kw):
        fd, name = real(prefix=prefix, dir=dir, **kw)
        if prefix.startswith(".leaderboard.json"):  # the last file of the set: on a full disk
            os.close(fd)
            fd = os.open("/dev/full", os.O_WRONLY)
        return fd, name

    monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp)
    with pytest.raises(TextcycleError, match="No space left on device") as e:
        write_leaderboard([], tmp_path / "board")
    assert "\n" not in str(e.value) and not list((tmp_path / "board").iterdir())
    monkeypatch.undo()
    files_ = write_leaderboard([], tmp_path / "board")
    assert all(p.is_file() for p in files_.values())
