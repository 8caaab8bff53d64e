"""textcycle.image.bundle: a run becomes a model folder with a card and a sample picture, only with
scores of its own weights; a bundled name (horse2zebra, zebra2horse) translates with its direction."""

import json

import pytest
from PIL import Image

import textcycle.model_folder as model_folder
from textcycle.image.bundle import main as bundle_main
from textcycle.image.evaluate import main as evaluate_main
from textcycle.image.model import ImageCycleModel
from textcycle.image.translate import main as translate_main


def evaluated(model, base):
    """The evaluation JSON of `model` (no Inception: the card then has no FID line), in `base`."""
    args = ["--model", str(model), "--cache", str(base / "clf"), "--classifier-epochs", "1"]
    assert evaluate_main(args + ["--out", str(base / "metrics")]) == 0
    return base / "metrics.json"


@pytest.fixture(scope="module")
def scores(trained_run, tmp_path_factory):
    """The evaluation JSON of the tiny trained run."""
    return evaluated(trained_run, tmp_path_factory.mktemp("scores"))


def test_a_run_becomes_a_model_folder_with_card_and_samples(tmp_path, trained_run, scores, capsys):
    into = tmp_path / "pretrained" / "tiny2x"
    cmd = ["--scores", str(scores), "--into", str(into), "--command", "python -m textcycle.image.train --config X"]
    assert bundle_main([str(trained_run), *cmd]) == 0
    assert sorted(p.name for p in into.iterdir()) == [
        "G_AB.safetensors",
        "G_BA.safetensors",
        "README.md",
        "config.json",
        "samples.png",
        "training.json",
    ]
    assert json.loads((into / "training.json").read_text())["step"] == 1
    shipped, trained = ImageCycleModel.from_pretrained(into), ImageCycleModel.from_pretrained(trained_run)
    assert shipped.fingerprint() == trained.fingerprint() == json.loads(scores.read_text())["fingerprint"]
    card = (into / "README.md").read_text()
    assert "# textcycle tiny2x" in card and "python -m textcycle.image.train --config X" in card
    assert "| A -> B | CycleGAN: G(testA) |" in card and "1 steps" in card and "the end of the run" in card
    assert Image.open(into / "samples.png").size == (4 * 16 + 3 * 2, 2 * 16 + 2)  # 4 test A over their translations
    # an existing folder is kept without --overwrite
    before = (into / "README.md").read_bytes()
    assert bundle_main([str(trained_run), "--scores", str(scores), "--into", str(into)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (into / "README.md").read_bytes() == before
    assert bundle_main([str(trained_run), "--scores", str(scores), "--into", str(into), "--overwrite"]) == 0
    # nor is a folder that is not a bundle, even with --overwrite: here the run itself
    run_files = sorted(p.name for p in trained_run.iterdir())
    assert bundle_main([str(trained_run), "--scores", str(scores), "--into", str(trained_run), "--overwrite"]) == 2
    assert "is not a bundled model folder" in capsys.readouterr().err
    assert sorted(p.name for p in trained_run.iterdir()) == run_files


def test_scores_of_other_weights_are_refused(tmp_path, trained_run, scores, capsys):
    other = json.loads(scores.read_text())
    other["fingerprint"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(other))
    into = tmp_path / "out"
    assert bundle_main([str(trained_run), "--scores", str(tmp_path / "other.json"), "--into", str(into)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "scores other weights" in err and len(err.strip().splitlines()) == 1
    assert not into.exists()
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert bundle_main([str(trained_run), "--scores", str(tmp_path / "bad.json"), "--into", str(into)]) == 2
    assert "not the JSON of textcycle.image.evaluate" in capsys.readouterr().err and not into.exists()
    del other["directions"]["A->B"]["identity"]
    other["fingerprint"] = json.loads(scores.read_text())["fingerprint"]
    (tmp_path / "cut.json").write_text(json.dumps(other))
    assert bundle_main([str(trained_run), "--scores", str(tmp_path / "cut.json"), "--into", str(into)]) == 2
    assert "incomplete scores (KeyError" in capsys.readouterr().err and not into.exists()


def test_a_bundled_name_translates_in_its_direction(tmp_path, tiny, trained_run, scores, monkeypatch, capsys):
    monkeypatch.setattr(model_folder, "PACKAGE_MODELS", tmp_path / "pretrained")
    assert translate_main(["--model", "horse2zebra", str(tiny / "testA")]) == 2  # not installed: one line
    assert "bundled image model 'horse2zebra' is not installed" in capsys.readouterr().err
    assert (
        bundle_main([str(trained_run), "--scores", str(scores), "--into", str(tmp_path / "pretrained/horse2zebra")])
        == 0
    )
    monkeypatch.chdir(tmp_path)
    photo = tiny / "testA" / "0.png"
    assert translate_main(["--model", "horse2zebra", str(photo)]) == 0  # no --to, no --out
    assert translate_main(["--model", "zebra2horse", str(photo), "--out", "to_a"]) == 0
    assert translate_main(["--model", str(trained_run), "--to", "B", str(photo), "--out", "by_hand"]) == 0
    same = tmp_path / "translated" / "0.png", tmp_path / "by_hand" / "0.png"
    assert same[0].read_bytes() == same[1].read_bytes()
    assert (tmp_path / "to_a" / "0.png").read_bytes() != same[0].read_bytes()
    # a model folder brings no direction: --to is still needed, one line
    assert translate_main(["--model", str(trained_run), str(photo), "--out", "x"]) == 2
    assert "needs --to A|B" in capsys.readouterr().err


def test_the_strip_of_fixed_test_images(tmp_path, trained_run, capsys):
    strip = tmp_path / "strip.png"
    assert translate_main(["--model", str(trained_run), "--to", "A", "--strip", str(strip), "--max-images", "3"]) == 0
    assert Image.open(strip).size == (3 * 16 + 2 * 2, 2 * 16 + 2)
    assert translate_main(["--model", str(trained_run), "--to", "A", "--strip", str(strip)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_the_shipped_horse2zebra_translates_offline(tmp_path, monkeypatch):
    """The bundled model from the package folder, by name, without data or network: a 256 px photo
    comes back as a 128 px translation; the folder holds its card and stays within 48 MiB."""
    folder = model_folder.PACKAGE_MODELS / "horse2zebra"
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 48 * 2**20
    card = (folder / "README.md").read_text()
    assert "FID A -> B" in card and "Command:" in card and "samples.png" in card
    Image.new("RGB", (256, 256), (120, 90, 60)).save(tmp_path / "horse.jpg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert translate_main(["--model", "horse2zebra", "horse.jpg"]) == 0
    assert Image.open(tmp_path / "translated" / "horse.png").size == (128, 128)
    model = ImageCycleModel.from_pretrained("zebra2horse")
    assert model.default_to == "A" and model.cfg.train.method == "cut"


def test_a_run_started_from_a_bundle_counts_its_training(tmp_path, tiny, trained_run, scores, capsys):
    """A run started from a bundled folder (train.init_from) counts the bundle's training.json:
    its card says where it started and the steps and hours in all, and so does its own bundle."""
    from textcycle.image.config import load_image_config
    from textcycle.image.train import train

    from .helpers import tiny_config

    first = tmp_path / "first"
    assert bundle_main([str(trained_run), "--scores", str(scores), "--into", str(first)]) == 0
    record = json.loads((first / "training.json").read_text())
    record.update(step=1000, wall_s=7200.0)  # as if the bundle had trained 1000 steps, 2 hours
    (first / "training.json").write_text(json.dumps(record))
    cfg = load_image_config(tiny_config(tmp_path, tiny), [f"train.init_from={first}"])
    train(cfg)
    run = tmp_path / "run"
    metrics = evaluated(run, tmp_path)
    second = tmp_path / "second"
    assert bundle_main([str(run), "--scores", str(metrics), "--into", str(second)]) == 0
    card = (second / "README.md").read_text()
    assert f"which started from `{first}` (1000 steps, 2.00 h); in all, 1004 steps, 2.00 h of training" in card
    assert json.loads((second / "training.json").read_text())["step"] == 1004
    # a broken training.json is one line, not a traceback
    (first / "training.json").write_text("[1, 2")
    assert bundle_main([str(first), "--scores", str(scores), "--into", str(tmp_path / "third")]) == 2
    assert "cannot read" in capsys.readouterr().err
