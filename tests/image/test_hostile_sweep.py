"""Issue 24, the image side: an alias bomb in a config, the --html page written over an existing
file, a run folder inside the data or on a file, the run's own config.yaml, and a full disk under
translate and under training. Each test failed before its fix."""

import errno
import os
import shutil
import time

import pytest
from PIL import Image

from textcycle.errors import ConfigError, TextcycleError
from textcycle.image.config import load_image_config
from textcycle.image.train import main as train_main
from textcycle.image.train import train
from textcycle.image.translate import main as translate_main

from .helpers import tiny_config, tree_hashes
from .test_translate import one_error_line


def test_an_alias_bomb_in_an_image_config_is_refused(tmp_path):
    """The image configs share the text configs' loader: the bomb is refused before it expands."""
    lines = ["train:", "  batch_size:", '    - &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"    - &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="aliases are not allowed") as e:
        load_image_config(tmp_path / "bomb.yaml")
    assert time.monotonic() - t0 < 5 and len(str(e.value)) < 300
    with pytest.raises(ConfigError, match=r"model.g_norm: expected one of .*got 'x+\.\.\.x+'$") as e:
        load_image_config(None, ["model.g_norm=" + "x" * 1_000_000])
    assert len(str(e.value)) < 300


def test_the_html_page_never_replaces_a_file_without_overwrite(tmp_path, trained_run, capsys):
    """Before: `--html FILE` wrote over an existing FILE (it was a JPEG) without --overwrite."""
    page = tmp_path / "photo.html"
    Image.new("RGB", (4, 4)).save(page, format="JPEG")  # a file of the user's, whatever its name
    before = page.read_bytes()
    assert translate_main(["--model", str(trained_run), "--html", str(page)]) == 2
    one_error_line(capsys.readouterr().err, "pass --overwrite to replace")
    assert page.read_bytes() == before and not (tmp_path / "photo_images").exists()
    assert translate_main(["--model", str(trained_run), "--html", str(page), "--overwrite"]) == 0
    assert page.read_text().startswith("<!doctype html>")
    # the page's images are outputs too: one left from before is not replaced either
    page.unlink()
    shot = next((tmp_path / "photo_images").iterdir())
    shot.write_bytes(b"mine")
    assert translate_main(["--model", str(trained_run), "--html", str(page)]) == 2
    one_error_line(capsys.readouterr().err, "pass --overwrite to replace")
    assert shot.read_bytes() == b"mine" and not page.exists()
    (tmp_path / "afile").write_text("x")
    assert translate_main(["--model", str(trained_run), "--html", str(tmp_path / "afile" / "p.html")]) == 2
    one_error_line(capsys.readouterr().err, "is a file, not a folder")


def full_disk_save(self, fp, format=None, **params):
    """PIL's Image.save on a full disk: some bytes written, then ENOSPC."""
    with open(fp, "wb") as fh:
        fh.write(b"\x89PNG\r\n")
    raise OSError(errno.ENOSPC, "No space left on device")


def test_translate_on_a_full_disk_leaves_no_partial_png(tmp_path, tiny, trained_run, monkeypatch, capsys):
    """Before: a 0-byte PNG was left, which a rerun then refused to replace."""
    out = tmp_path / "out"
    argv = ["--model", str(trained_run), "--to", "B", str(tiny / "testA" / "0.png"), "--out", str(out)]
    monkeypatch.setattr(Image.Image, "save", full_disk_save)
    assert translate_main(argv) == 2
    one_error_line(capsys.readouterr().err, "No space left on device")
    assert not out.exists() or not list(out.iterdir())  # no PNG, no temporary
    monkeypatch.undo()
    assert translate_main(argv) == 0  # the rerun needs no --overwrite
    assert Image.open(out / "0.png").size == (16, 16)


@pytest.mark.parametrize("where", ["data/trainA", "data", "data/trainA/run", "link/trainB"])
def test_a_run_folder_inside_the_data_is_refused(tmp_path, tiny, where):
    """Before: `-o train.output_dir=H/trainA` was accepted, and the run's curves.png became a
    training image."""
    (tmp_path / "link").symlink_to(tiny)
    before = tree_hashes(tiny)
    cfg = load_image_config(tiny_config(tmp_path, tiny), [f"train.output_dir={tmp_path / where}"])
    with pytest.raises(TextcycleError, match="the data folder"):
        train(cfg)
    assert tree_hashes(tiny) == before


@pytest.mark.parametrize("out", ["afile", "afile/run"])
def test_a_run_folder_that_is_a_file_is_refused_before_any_work(tmp_path, tiny, out, capsys):
    (tmp_path / "afile").write_text("mine")
    config = tiny_config(tmp_path, tiny)
    assert train_main(["--config", str(config), "-o", f"train.output_dir={tmp_path / out}"]) == 2
    one_error_line(capsys.readouterr().err, "is a file, not a folder")
    assert (tmp_path / "afile").read_text() == "mine"


def test_a_users_config_in_the_run_folder_is_never_replaced(tmp_path, tiny, capsys):
    run = tmp_path / "run"
    run.mkdir()
    mine = "# my image experiment\n" + tiny_config(tmp_path, tiny).read_text()
    (run / "config.yaml").write_text(mine)
    assert train_main(["--config", str(run / "config.yaml"), "-o", f"train.output_dir={run}"]) == 2
    one_error_line(capsys.readouterr().err, "is not a config this trainer wrote")
    assert (run / "config.yaml").read_text() == mine and sorted(os.listdir(run)) == ["config.yaml"]


def test_training_on_a_full_disk_is_one_line_naming_the_last_checkpoint(tmp_path, tiny, monkeypatch, capsys):
    from safetensors import SafetensorError

    import textcycle.checkpoint as ck

    real = ck.save_file

    def save_file(tensors, filename, metadata=None):  # the disk fills up after the first checkpoint
        if "step-000002" in filename:
            return real(tensors, filename, metadata=metadata)
        raise SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
        )

    monkeypatch.setattr(ck, "save_file", save_file)
    assert train_main(["--config", str(tiny_config(tmp_path, tiny))]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = [ln for ln in err.splitlines() if "error: " in ln][-1]
    assert "step-000004" in line and "the last good checkpoint is" in line and "step-000002" in line
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ["step-000002"]
    shutil.rmtree(tmp_path / "run")
