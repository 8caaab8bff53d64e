"""Training (textcycle.text.train, the run around textcycle.text.method) on a tiny config: outputs, curves,
the run folder's safety checks, resume after a kill, two processes."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_corpus

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
TINY = str(REPO / "configs" / "tiny.yaml")


def train_cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "textcycle.train", "--config", TINY, *args],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ------------------------------------------------------------------ training outputs


def test_training_writes_model_checkpoints_and_curves(trained):
    final = trained / "final"
    for f in ("config.json", "tokenizer.model", "generators.safetensors", "discriminator.safetensors"):
        assert (final / f).is_file(), f
    # weights are safetensors; the only .bin files are CTranslate2's own (not pickle) model.bin
    bins = list(trained.rglob("*.bin")) + list(trained.rglob("*.pt"))
    assert all(b.parent.parent.name == "ct2" and b.name == "model.bin" for b in bins), bins
    assert all(b.read_bytes()[:2] not in (b"\x80\x02", b"\x80\x04", b"PK") for b in bins), "pickled weights"
    assert (final / "ct2" / "manifest.json").is_file() and (trained / "best" / "ct2" / "manifest.json").is_file()
    assert (trained / "curves.png").stat().st_size > 1000
    assert list((trained / "tensorboard").glob("events.*"))
    assert (trained / "best" / "dev_eval.json").is_file()
    summary = json.loads((trained / "train_summary.json").read_text())
    assert summary["steps"] == 24 and summary["processes"] == 1  # 12 warm + 4 self-training + 8 RL
    ckpts = sorted((trained / "checkpoints").iterdir())
    assert ckpts and len(ckpts) <= 3  # pruned to keep_checkpoints


def test_history_has_both_phases(trained):
    from textcycle.checkpoint import latest_checkpoint, load_checkpoint

    info = load_checkpoint(latest_checkpoint(trained / "checkpoints"), {}, {})
    phases = {row.get("phase") for row in info["history"]}
    assert {"warm", "rl"} <= phases
    rl_rows = [r for r in info["history"] if r.get("phase") == "rl"]
    assert any("rl/reward_to1" in r for r in rl_rows)


def test_time_limit_stops_early_with_a_model_and_a_checkpoint(tmp_path):
    from textcycle.text.train import main

    data = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    assert (
        main(
            [
                "--config",
                TINY,
                "-o",
                f"data.path={data}",
                "-o",
                f"train.output_dir={out}",
                "-o",
                "train.time_limit_minutes=0.02",
                "-o",
                "train.warm_steps=5000",
            ]
        )
        == 0
    )
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["stopped_by_time_limit"] is True and summary["steps"] < 5000
    assert (out / "final" / "generators.safetensors").is_file()
    if summary["steps"]:
        from textcycle.checkpoint import latest_checkpoint

        assert latest_checkpoint(out / "checkpoints").name == f"step-{summary['steps']:06d}"  # resumable


def test_rl_fits_on_hand_computed_numbers():
    from textcycle.text.schedule import RL_STEP_COST, rl_fits

    # a 300-s round (60 s making pairs, 100 steps: 2.4 s a step); 20 RL steps = 20 * 2.5 * 2.4 = 120 s; eval 30 s
    assert RL_STEP_COST == 2.5
    assert rl_fits(9000, 8550, 300, 60, 100, 20, 30)  # 8550 + 300 + 120 + 30 = 9000
    assert not rl_fits(9000, 8551, 300, 60, 100, 20, 30)
    assert rl_fits(9000, 8700, 300, 60, 100, 0, 0)  # no RL: only the round must fit


def test_time_limit_ends_selftrain_early_so_rl_still_runs(tmp_path, monkeypatch):
    """The round after the first would leave no time for RL (forced): self-training stops at 1
    round, the RL steps run at rl_lr, and a resumed run keeps the cut instead of training more rounds."""
    import textcycle.text.schedule as schedule_mod
    import textcycle.text.train as train_mod
    from textcycle.checkpoint import latest_checkpoint, load_checkpoint

    data = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    args = [
        "--config",
        TINY,
        "-o",
        f"data.path={data}",
        "-o",
        f"train.output_dir={out}",
        "-o",
        "train.warm_steps=4",
        "-o",
        "train.selftrain_rounds=3",
        "-o",
        "train.selftrain_steps=2",
        "-o",
        "train.rl_steps=3",
        "-o",
        "train.time_limit_minutes=1000",
        "-o",
        "train.rl_lr=7.0e-5",
        "-o",
        "train.save_every=1",
    ]
    lrs = []
    real_rl_step = train_mod.TextCycleGAN.rl_step
    monkeypatch.setattr(
        train_mod.TextCycleGAN,
        "rl_step",
        lambda self: lrs.append(self.opt_g.param_groups[0]["lr"]) or real_rl_step(self),
    )
    monkeypatch.setattr(schedule_mod, "rl_fits", lambda *a: False)
    assert train_mod.main(args) == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 4 + 1 * 2 + 3 and summary["selftrain_rounds"] == 1
    assert summary["selftrain_cut_by_time_limit"] is True and summary["stopped_by_time_limit"] is False
    assert lrs == pytest.approx([7e-5] * 3)
    info = load_checkpoint(latest_checkpoint(out / "checkpoints"), {}, {})
    assert info["selftrain_cut"] == 1 and len(info["round_seconds"]) == 1
    assert any(r.get("phase") == "selftrain-cut" for r in info["history"])
    monkeypatch.setattr(schedule_mod, "rl_fits", lambda *a: True)
    assert train_mod.main(args + ["--resume"]) == 0  # already done: no more rounds, no more steps
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 9


def test_a_run_killed_mid_round_resumes_without_cutting_that_round(tmp_path, monkeypatch):
    """Killed in the middle of round 1 and resumed with no more rounds fitting: round 1 is
    finished (a cut is decided only at a round's first step), the cut comes before round 2,
    and the RL phase still gets all its steps."""
    import textcycle.text.schedule as schedule_mod
    import textcycle.text.train as train_mod

    data = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    args = [
        "--config",
        TINY,
        "-o",
        f"data.path={data}",
        "-o",
        f"train.output_dir={out}",
        "-o",
        "train.warm_steps=4",
        "-o",
        "train.selftrain_rounds=3",
        "-o",
        "train.selftrain_steps=2",
        "-o",
        "train.rl_steps=3",
        "-o",
        "train.time_limit_minutes=1000",
        "-o",
        "train.save_every=1",
    ]
    real_step = train_mod.TextCycleGAN.selftrain_step

    def killed_at_7(self):
        if self.step == 7:
            raise RuntimeError("killed")
        return real_step(self)

    monkeypatch.setattr(train_mod.TextCycleGAN, "selftrain_step", killed_at_7)
    monkeypatch.setattr(schedule_mod, "rl_fits", lambda *a: True)
    with pytest.raises(RuntimeError, match="killed"):
        train_mod.main(args)
    monkeypatch.setattr(train_mod.TextCycleGAN, "selftrain_step", real_step)
    monkeypatch.setattr(schedule_mod, "rl_fits", lambda *a: False)  # from now on no round fits
    assert train_mod.main(args + ["--resume"]) == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["selftrain_rounds"] == 2 and summary["steps"] == 4 + 2 * 2 + 3
    assert "selftrain_rounds: 3" in (out / "config.yaml").read_text()  # the config as given


def test_existing_run_needs_resume_and_keeps_its_config(trained):
    # bug: config.yaml was rewritten before the safety check, losing how the checkpoints were made
    before = (trained / "config.yaml").read_bytes()
    r = train_cli("-o", f"train.output_dir={trained}", "-o", "data.path=unused")
    assert r.returncode == 2
    assert "--resume" in r.stderr and "Traceback" not in r.stderr
    assert (trained / "config.yaml").read_bytes() == before


def test_resume_with_other_networks_is_one_line_naming_the_keys(trained, capsys):
    from textcycle.text.train import main

    before = (trained / "config.yaml").read_bytes()
    data = trained.parent / "data"
    rc = main(
        [
            "--config",
            TINY,
            "-o",
            f"data.path={data}",
            "-o",
            f"train.output_dir={trained}",
            "-o",
            "generator.d_model=48",
            "--resume",
        ]
    )
    assert rc == 2 and "generator.d_model: 32 -> 48" in capsys.readouterr().err
    assert (trained / "config.yaml").read_bytes() == before


def test_stale_tokenizer_is_detected(trained, tmp_path, capsys):
    # bug: a tokenizer/ left in an output folder was reused even for other data or vocab_size
    from textcycle.text.train import main

    out = tmp_path / "run"
    shutil.copytree(trained / "tokenizer", out / "tokenizer")
    data = trained.parent / "data"
    rc = main(
        [
            "--config",
            TINY,
            "-o",
            f"data.path={data}",
            "-o",
            f"train.output_dir={out}",
            "-o",
            "tokenizer.vocab_size=300",
            "-o",
            "train.warm_steps=1",
            "-o",
            "train.rl_steps=0",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "vocab_size 200 -> 300" in err and len(err.strip().splitlines()) == 1


def test_corpus_too_small_for_a_dev_split_fails_at_start(tmp_path, capsys):
    from textcycle.text.train import main

    d = tmp_path / "data"
    d.mkdir()
    (d / "sentiment.train.0").write_text("the food was bad .\n")
    (d / "sentiment.train.1").write_text("the food was good .\n")
    rc = main(["--config", TINY, "-o", f"data.path={d}", "-o", f"train.output_dir={tmp_path / 'run'}"])
    assert rc == 2 and "dev" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize(
    "override, words",
    [
        ("train.batch_size=0", "train.batch_size"),
        ("train.batch_size=-4", "train.batch_size"),
        ("train.save_every=0", "train.save_every"),
        ("train.eval_every=0", "train.eval_every"),
        ("train.log_every=0", "train.log_every"),
        ("train.num_samples=0", "train.num_samples"),
        ("train.mixed_precision=fp8", "mixed_precision"),
        ("train.lr=-0.001", "train.lr"),
        ("tokenizer.max_length=0", "tokenizer.max_length"),
        ("train.warm_steps=-5", "train.warm_steps"),
        ("train.baseline=foo", "train.baseline"),
        ("train.keep_checkpoints=0", "keep_checkpoints"),
        ("train.grad_accum=2", "grad_accum"),
        ("train.disc_warm_steps=3", "disc_warm_steps"),
        ("train.marker_sampling=zipf", "train.marker_sampling"),
        ("train.lexicon_ratio=0.5", "train.lexicon_ratio"),
    ],
)
def test_bad_config_values_fail_at_load_with_the_allowed_range(override, words, tmp_path, capsys):
    from textcycle.text.train import main

    rc = main(["--config", TINY, "-o", override, "-o", f"train.output_dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # nothing written for a refused config


def test_bad_config_key_is_a_clear_error():
    r = train_cli("-o", "train.no_such_key=1")
    assert r.returncode == 2 and "no_such_key" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------ resume and processes


@pytest.mark.slow
def test_sigkill_then_resume_reaches_the_same_final_step(tmp_path):
    data = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    args = [
        "--config",
        TINY,
        "-o",
        f"data.path={data}",
        "-o",
        f"train.output_dir={out}",
        "-o",
        "train.warm_steps=30",
        "-o",
        "train.rl_steps=10",
        "-o",
        "train.save_every=5",
    ]
    p = subprocess.Popen(
        [sys.executable, "-m", "textcycle.train", *args],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not list(out.glob("checkpoints/step-*")):
        assert p.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline, "no checkpoint within 300 s"
        time.sleep(0.2)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not (out / "final").exists()
    r = subprocess.run(
        [sys.executable, "-m", "textcycle.train", *args, "--resume"],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resumed from step" in r.stdout
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 44


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes(tmp_path):
    data = write_corpus(tmp_path / "data")
    out = tmp_path / "run"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "textcycle.train",
            "--config",
            TINY,
            "-o",
            f"data.path={data}",
            "-o",
            f"train.output_dir={out}",
            "-o",
            "train.warm_steps=6",
            "-o",
            "train.rl_steps=4",
            "-o",
            "train.bt_start=3",
        ],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 process(es)" in r.stdout
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 14
    assert (out / "final" / "generators.safetensors").is_file()
