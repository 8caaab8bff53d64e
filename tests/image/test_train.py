"""textcycle.image.train: the run folder, lossless resume (also of an old-layout run), refusals
that leave the run alone, the command line, two processes."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from textcycle.errors import TextcycleError
from textcycle.image import train as train_module
from textcycle.image.config import load_image_config
from textcycle.image.train import main, train

from .helpers import ENV, REPO, tiny_config


def same_generators(a, b) -> bool:
    for name in ("G_AB", "G_BA"):
        wa, wb = load_file(str(a / f"{name}.safetensors")), load_file(str(b / f"{name}.safetensors"))
        if wa.keys() != wb.keys() or not all(torch.equal(wa[k], wb[k]) for k in wa):
            return False
    return True


def test_train_resume_is_lossless_and_the_run_folder_has_the_text_runs_shape(tmp_path, tiny):
    """4 steps straight == 2 steps, stop, --resume, 2 more (weights, optimizer, pool, data order)."""
    straight = load_image_config(tiny_config(tmp_path, tiny), [f"train.output_dir={tmp_path / 'a'}"])
    train(straight)
    split = load_image_config(tiny_config(tmp_path, tiny), [f"train.output_dir={tmp_path / 'b'}"])
    train(split, max_steps=2)
    train(split, resume=True)
    assert same_generators(tmp_path / "a" / "final", tmp_path / "b" / "final")
    run = tmp_path / "a"
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoints",
        "config.yaml",
        "curves.png",
        "final",
        "history.jsonl",
        "samples",
        "tensorboard",
        "train_summary.json",
    ]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000002", "step-000004"]
    assert sorted(p.name for p in (run / "final").iterdir()) == ["G_AB.safetensors", "G_BA.safetensors", "config.json"]
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["output_dir"] == str(run)
    assert (run / "samples" / "epoch-001.png").is_file() and (run / "samples" / "latest.png").is_file()
    assert any((run / "tensorboard").iterdir())
    assert json.loads((run / "train_summary.json").read_text())["step"] == 4
    assert [json.loads(x)["step"] for x in (tmp_path / "b" / "history.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    with pytest.raises(TextcycleError, match="--resume"):
        train(straight)  # the folder holds checkpoints: refuse to overwrite


def test_refusals_write_nothing(tmp_path, tiny, trained_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = (run / "config.yaml").read_bytes()
    cfg = tiny_config(tmp_path, tiny)  # output_dir: tmp_path/run
    assert main(["--config", str(cfg), "-o", "train.lr=0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already holds checkpoints" in err and len(err.strip().splitlines()) == 1
    assert (run / "config.yaml").read_bytes() == before  # the run's config is not overwritten
    fresh = tmp_path / "fresh"
    assert main(["--config", str(cfg), "--resume", "-o", f"train.output_dir={fresh}"]) == 2
    assert "no checkpoint" in capsys.readouterr().err and not fresh.exists()
    # a corrupt newest checkpoint and no intact one: a clear error, and config.yaml untouched
    for ckpt in (run / "checkpoints").iterdir():
        (ckpt / "G_AB.safetensors").write_bytes(b"broken")
    assert main(["--config", str(cfg), "--resume"]) == 2
    assert "no intact checkpoint" in capsys.readouterr().err
    assert (run / "config.yaml").read_bytes() == before


def test_ctrl_c_says_how_to_continue(tmp_path, tiny, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "train", interrupted)
    assert main(["--config", str(tiny_config(tmp_path, tiny))]) == 130
    assert capsys.readouterr().err.strip() == "interrupted; continue with --resume"


def test_cli_takes_dash_o_and_the_older_positional_overrides(tmp_path, tiny, capsys):
    """`-o KEY=VALUE` and, as before, bare KEY=VALUE after the options (the hostile-input tests run
    the command in a fresh process)."""
    cfg = tiny_config(tmp_path, tiny)
    assert (
        main(["--config", str(cfg), "-o", "train.constant_steps=1", "train.decay_steps=0", "-o", "train.save_every=1"])
        == 0
    )
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["train"]
    assert (saved["constant_steps"], saved["decay_steps"], saved["save_every"]) == (1, 0, 1)
    assert (tmp_path / "run" / "final" / "G_AB.safetensors").is_file()
    assert "model in" in capsys.readouterr().out


def test_max_minutes_stops_with_a_checkpoint_and_resume_finishes(tmp_path, tiny, monkeypatch):
    """--max-minutes: the step that runs out of time is the last, checkpointed; --resume goes on."""
    clock = iter(range(0, 10**6, 30))  # every call of time.time() is 30 s later
    monkeypatch.setattr(train_module.time, "time", lambda: float(next(clock)))
    cfg = tiny_config(tmp_path, tiny)
    assert main(["--config", str(cfg), "-o", "train.save_every=100", "--max-minutes", "1.5"]) == 0
    steps = [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()]
    done = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert len(steps) == 1 and 1 <= done["step"] < done["total_steps"] and steps == [f"step-{done['step']:06d}"]
    assert main(["--config", str(cfg), "--resume"]) == 0
    assert json.loads((tmp_path / "run" / "train_summary.json").read_text())["step"] == done["total_steps"]
    assert main(["--config", str(cfg), "--resume", "--max-minutes", "0"]) == 2


@pytest.mark.slow
def test_accelerate_two_processes(tmp_path, tiny):
    cfg = tiny_config(tmp_path, tiny, batch_size=1)
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
            "textcycle.image.train",
            "--config",
            str(cfg),
        ],
        cwd=REPO,
        env={**ENV, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 process(es)" in r.stdout + r.stderr
    assert (tmp_path / "run" / "final" / "G_AB.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "train_summary.json").read_text())["processes"] == 2


def test_init_from_starts_both_generators_from_a_saved_model_and_counts_its_training(tmp_path, tiny, trained_run):
    """train.init_from: the generators start as the saved model's (the 1-step trained_run), the
    rest afresh; the checkpoints and the summary carry its steps, which run_record adds up; a
    resumed run keeps them; a model of other sizes is a one-line error before anything is written."""
    from accelerate import Accelerator

    from textcycle.image.method import CycleGAN
    from textcycle.image.model import ImageCycleModel, run_record

    saved = ImageCycleModel.from_pretrained(trained_run)
    cfg = load_image_config(tiny_config(tmp_path, tiny), [f"train.init_from={trained_run}"])
    model = CycleGAN(cfg, Accelerator(cpu=True))
    start = train_module.init_generators(model, str(trained_run))
    wall = json.loads((trained_run / "train_summary.json").read_text())["wall_s"]
    assert start == {"path": str(trained_run), "step": 1, "wall_s": wall}
    for name in ("G_AB", "G_BA"):
        mine, theirs = getattr(model, name).state_dict(), getattr(saved, name).state_dict()
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)

    train(cfg, max_steps=2)
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "step-000002"
    record = run_record(ckpt)
    assert record["run_step"] == 2 and record["step"] == 3 and record["init_from"] == start
    assert record["wall_s"] == pytest.approx(json.loads((ckpt / "state.json").read_text())["elapsed_s"] + wall, abs=0.1)
    train(cfg, resume=True)  # --resume: from the checkpoint, not init_from; the record goes on
    final = run_record(run / "final")
    assert final["final"] and final["run_step"] == 4 and final["step"] == 5 and final["init_from"] == start

    other = load_image_config(
        tiny_config(tmp_path, tiny, name="other.yaml", output_dir=str(tmp_path / "other")),
        [f"train.init_from={trained_run}", "model.ngf=8"],
    )
    with pytest.raises(TextcycleError, match="train.init_from .*G_AB does not fit"):
        train(other)
    assert not (tmp_path / "other").exists()
