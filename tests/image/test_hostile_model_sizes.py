"""An image model folder whose config.json sizes were edited: one line from the loader (issue 24:
model.ngf 1e9 was a traceback), before any network is built for real."""

import json
import shutil

import pytest

from textcycle.errors import TextcycleError
from textcycle.image.model import ImageCycleModel

from .helpers import run_cli


def edited(trained_run, dest, **model):
    shutil.copytree(trained_run / "final", dest)
    cfg = json.loads((dest / "config.json").read_text())
    cfg["model"].update(model)
    (dest / "config.json").write_text(json.dumps(cfg))
    return dest


@pytest.mark.parametrize(
    "model, words",
    [
        ({"ngf": 1e9}, "expected an integer"),
        ({"ngf": 10**9}, "larger generator than the file holds"),
        ({"n_blocks": 10**6}, "larger generator than the file holds"),
        ({"ngf": 3}, "size mismatch for model.1.weight"),
    ],
    ids=["ngf 1e9", "ngf 10**9", "n_blocks 10**6", "ngf 3"],
)
def test_edited_sizes_are_one_line(tmp_path, trained_run, model, words):
    folder = edited(trained_run, tmp_path / "m", **model)
    with pytest.raises(TextcycleError, match=words) as e:
        ImageCycleModel.from_pretrained(folder)
    assert "\n" not in str(e.value)


def test_translate_command_with_an_edited_model(tmp_path, trained_run):
    folder = edited(trained_run, tmp_path / "m", ngf=10**9)
    r = run_cli(
        "textcycle.image.translate", "--model", folder, "--to", "B", "--out", tmp_path / "out", tmp_path / "none.png"
    )
    assert r.returncode == 2 and "larger generator" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run_cli("textcycle.image.translate", "--model", folder, "--threads", "-5", "--html", tmp_path / "x.html")
    assert r.returncode == 2 and "--threads" in r.stderr and "Traceback" not in r.stderr, r.stderr
