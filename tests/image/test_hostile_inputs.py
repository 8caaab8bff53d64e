"""The three image commands on hostile inputs, each as a user runs it (a fresh process).

For every row: no traceback; exit status 0 or 2 (the one expected); when 2, exactly one `error:`
line (warnings aside); no input file changed and no file changed, added or removed anywhere but
in the row's outputs (everything under the row's own sandbox folder is compared byte for byte,
and so is the trained model it reads).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from .helpers import make_dataset, png_header_only, run_cli, tiny_config, tree_hashes, truncate


@dataclass
class Row:
    id: str
    command: str  # train | translate | evaluate
    args: Callable[[Path, Path], list]  # (sandbox, trained run) -> the command's arguments
    exit: int
    needle: str  # expected in stderr (the error line, or a warning)
    prepare: Callable[[Path, Path], object] | None = None  # makes the hostile input in the sandbox
    outputs: tuple = ()  # sandbox paths the command may write; nothing else may change
    check: Callable[[Path], None] | None = None  # more checks on the sandbox afterwards


def config(box: Path, *extra, root: str = "data") -> list:
    return [
        "--config",
        tiny_config(box, box / root),
        "-o",
        "train.constant_steps=1",
        "-o",
        "train.decay_steps=0",
        *extra,
    ]


def empty_folder(box: Path, name: str) -> Path:
    shutil.rmtree(box / "data" / name)
    (box / "data" / name).mkdir()
    return box / "data" / name


def only_a_fake_png(box: Path, name: str) -> Path:
    folder = empty_folder(box, name)
    (folder / "photo.png").write_text("this is not a PNG")
    return folder


def bad_and_good(box: Path, name: str) -> Path:
    """The folder's good images, a truncated JPEG, a text file named .png and a bomb's header."""
    folder = box / "data" / name
    truncate(folder / "1.jpg", folder / "cut.jpg")
    (folder / "fake.png").write_text("this is not a PNG")
    png_header_only(folder / "bomb.png", 14000, 14000)
    return folder


def has_final(box: Path) -> None:
    assert (box / "run" / "final" / "G_AB.safetensors").is_file()


def pngs(n: int, folder: str = "out"):
    def check(box: Path) -> None:
        assert len(list((box / folder).glob("*.png"))) == n

    return check


def copied_run(box: Path, run: Path) -> Path:
    shutil.copytree(run, box / "run")
    return box / "run"


def no_weights(box: Path) -> Path:
    (box / "model").mkdir()
    (box / "model" / "config.json").write_text(json.dumps({"data": {"crop_size": 16, "load_size": 16}}))
    return box / "model"


def existing_outputs(box: Path) -> Path:
    (box / "out").mkdir()
    (box / "out" / "0.png").write_bytes(b"my own file")
    return box / "out"


def evaluate(box: Path, run: Path, *extra) -> list:
    return ["--model", run, "--cache", box / "clf", "--classifier-epochs", "1", "--out", box / "eval", *extra]


def translate(box: Path, model, *inputs, out="out") -> list:
    return ["--model", model, "--to", "B", *inputs, "--out", box / out]


TEST_A = ("data", "testA")

ROWS = [
    # ---------------------------------------------------------------- train
    Row("train-missing-data-folder", "train", lambda b, r: config(b, root="nowhere"), 2, "data root not found"),
    Row(
        "train-empty-folder",
        "train",
        lambda b, r: config(b),
        2,
        "no images in",
        prepare=lambda b, r: empty_folder(b, "trainA"),
    ),
    Row(
        "train-non-image-named-png",
        "train",
        lambda b, r: config(b),
        2,
        "no images in",
        prepare=lambda b, r: only_a_fake_png(b, "trainB"),
    ),
    Row(
        "train-truncated-jpeg-fake-png-and-bomb-are-skipped",
        "train",
        lambda b, r: config(b),
        0,
        "14000x14000",
        prepare=lambda b, r: bad_and_good(b, "trainA"),
        outputs=("run",),
        check=has_final,
    ),
    Row(
        "train-bad-config-value",
        "train",
        lambda b, r: config(b, "-o", "train.batch_size=0"),
        2,
        "train.batch_size must be >= 1",
    ),
    Row(
        "train-patchgan-larger-than-the-crop",
        "train",
        lambda b, r: config(b, "-o", "model.d_layers=3"),
        2,
        "too small for a PatchGAN",
    ),  # was a RuntimeError traceback from a convolution
    Row("train-resume-without-checkpoint", "train", lambda b, r: config(b, "--resume"), 2, "no checkpoint"),
    Row(
        "train-over-an-existing-run",
        "train",
        lambda b, r: config(b),
        2,
        "already holds checkpoints",
        prepare=copied_run,
    ),  # and the run's config.yaml is left as it was
    # ---------------------------------------------------------------- translate
    Row("translate-missing-input", "translate", lambda b, r: translate(b, r, b / "nope.png"), 2, "input not found"),
    Row(
        "translate-empty-folder",
        "translate",
        lambda b, r: translate(b, r, b.joinpath(*TEST_A)),
        2,
        "no images in",
        prepare=lambda b, r: empty_folder(b, "testA"),
    ),
    Row(
        "translate-non-image-named-png",
        "translate",
        lambda b, r: translate(b, r, b.joinpath(*TEST_A, "photo.png")),
        2,
        "could be read",
        prepare=lambda b, r: only_a_fake_png(b, "testA"),
    ),
    Row(
        "translate-truncated-jpeg-fake-png-and-bomb-are-skipped",
        "translate",
        lambda b, r: translate(b, r, b.joinpath(*TEST_A), b.joinpath(*TEST_A, "bomb.png")),
        0,
        "cut.jpg",
        prepare=lambda b, r: bad_and_good(b, "testA"),
        outputs=("out",),
        check=pngs(4),
    ),
    Row(
        "translate-out-is-the-input-folder",
        "translate",
        lambda b, r: translate(b, r, b.joinpath(*TEST_A), "--overwrite", out=Path(*TEST_A)),
        2,
        "it is the input image",
    ),
    Row(
        "translate-existing-outputs",
        "translate",
        lambda b, r: translate(b, r, b.joinpath(*TEST_A)),
        2,
        "1 of the 4 output file(s) already exist",
        prepare=lambda b, r: existing_outputs(b),
    ),
    Row(
        "translate-model-without-weights",
        "translate",
        lambda b, r: translate(b, b / "model", b.joinpath(*TEST_A)),
        2,
        "no generator weights",
        prepare=lambda b, r: no_weights(b),
    ),
    # ---------------------------------------------------------------- evaluate
    Row("evaluate-missing-model", "evaluate", lambda b, r: evaluate(b, b / "nothing"), 2, "model folder not found"),
    Row(
        "evaluate-empty-test-folder",
        "evaluate",
        lambda b, r: evaluate(b, r, "--data", b / "data"),
        2,
        "no images in",
        prepare=lambda b, r: empty_folder(b, "testB"),
    ),
    Row(
        "evaluate-truncated-jpeg-fake-png-and-bomb-are-skipped",
        "evaluate",
        lambda b, r: evaluate(b, r, "--data", b / "data"),
        0,
        "cut.jpg",
        prepare=lambda b, r: bad_and_good(b, "testA"),
        outputs=("clf", "eval.md", "eval.json"),
    ),
]


def outside(hashes: dict, outputs: tuple) -> dict:
    return {k: v for k, v in hashes.items() if not any(k == o or k.startswith(o + "/") for o in outputs)}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_hostile_input(row: Row, tmp_path, trained_run):
    box = tmp_path / "box"
    make_dataset(box / "data")
    if row.prepare:
        row.prepare(box, trained_run)
    args = row.args(box, trained_run)
    before, model_before = tree_hashes(box), tree_hashes(trained_run)
    r = run_cli(f"textcycle.image.{row.command}", *args, cwd=box)  # cwd: stray writes would show up in `box`
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode == row.exit, r.stderr[-3000:]
    assert row.needle in r.stderr, r.stderr[-3000:]
    assert "DecompressionBomb" not in r.stderr
    if r.returncode == 2:
        lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("warning: ")]
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-3000:]
    after = tree_hashes(box)
    assert outside(after, row.outputs) == outside(before, row.outputs)  # inputs and everything else unchanged
    assert tree_hashes(trained_run) == model_before
    if row.check:
        row.check(box)
