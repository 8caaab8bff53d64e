"""textcycle.image.model: the model folder (save / load), the run folders it loads from, sample grids."""

import json
import shutil

import pytest
import torch

from textcycle.errors import TextcycleError
from textcycle.image.model import ImageCycleModel, sample_grid

X = torch.linspace(-1, 1, 2 * 3 * 16 * 16).view(2, 3, 16, 16)


def test_save_and_load_round_trip(tmp_path, trained_run):
    model = ImageCycleModel.from_pretrained(trained_run / "final")
    folder = model.save_pretrained(tmp_path / "copy")
    assert sorted(p.name for p in folder.iterdir()) == ["G_AB.safetensors", "G_BA.safetensors", "config.json"]
    again = ImageCycleModel.from_pretrained(folder)
    assert torch.equal(model.translate(X, "B"), again.translate(X, "B"))
    assert torch.equal(model.translate(X, "A"), again.translate(X, "A"))
    assert again.cfg == model.cfg and not again.training
    with pytest.raises(TextcycleError, match="A or B"):
        again.translate(X, "C")


def test_a_run_folder_is_its_final_model(trained_run):
    run, final = ImageCycleModel.from_pretrained(trained_run), ImageCycleModel.from_pretrained(trained_run / "final")
    assert torch.equal(run.translate(X, "B"), final.translate(X, "B"))


def test_a_run_in_progress_reads_its_newest_checkpoint(tmp_path, trained_run):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    shutil.rmtree(run / "final")  # no model yet: checkpoints/step-N and config.yaml
    model = ImageCycleModel.from_pretrained(run)
    assert torch.equal(model.translate(X, "B"), ImageCycleModel.from_pretrained(trained_run).translate(X, "B"))


def test_a_run_resumed_past_its_final_reads_its_newest_checkpoint(tmp_path, trained_run):
    """bug: a run resumed after a piece kept the piece's final/, so evaluate and translate scored
    the old weights while newer checkpoints existed."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    zeros = ImageCycleModel.from_pretrained(run / "final")
    for p in zeros.parameters():
        p.data.zero_()
    zeros.save_pretrained(run / "final")  # final/ now differs from checkpoints/step-000001
    newest = ImageCycleModel.from_pretrained(trained_run).translate(X, "B")
    assert torch.equal(ImageCycleModel.from_pretrained(run).translate(X, "B"), torch.zeros_like(newest))
    summary = json.loads((run / "train_summary.json").read_text())
    (run / "train_summary.json").write_text(json.dumps({**summary, "step": 0}))  # final/ from an earlier piece
    model = ImageCycleModel.from_pretrained(run)
    assert torch.equal(model.translate(X, "B"), newest) and model.weights_dir.name == "step-000001"


def test_clear_errors(tmp_path, trained_run):
    with pytest.raises(TextcycleError, match="model folder not found"):
        ImageCycleModel.from_pretrained(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TextcycleError, match="not an image model folder"):
        ImageCycleModel.from_pretrained(tmp_path / "empty")
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text(json.dumps({"data": {"crop_size": 16, "load_size": 16}}))
    with pytest.raises(TextcycleError, match="no generator weights"):
        ImageCycleModel.from_pretrained(no_weights)
    broken = tmp_path / "broken"
    shutil.copytree(trained_run / "final", broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(TextcycleError, match="not valid JSON"):
        ImageCycleModel.from_pretrained(broken)
    cfg = json.loads((trained_run / "final" / "config.json").read_text())
    cfg["model"]["ngf"] = 8
    (broken / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TextcycleError, match="does not match"):
        ImageCycleModel.from_pretrained(broken)
    (broken / "G_AB.safetensors").write_bytes(b"garbage")
    with pytest.raises(TextcycleError, match="cannot read"):
        ImageCycleModel.from_pretrained(broken)


def test_sample_grid(trained_run):
    grid = sample_grid(ImageCycleModel.from_pretrained(trained_run), X, X[:1])
    gap = max(2, 16 // 8)
    assert grid.size == (6 * 16 + gap, 2 * 16 + 2)  # 2 rows of real | fake | rec || real | fake | rec
