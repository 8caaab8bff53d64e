"""textcycle.image.translate: files, folders, the HTML page; it never writes over an input, asks
before replacing outputs, and skips inputs it cannot read."""

import shutil

import pytest
from PIL import Image

import textcycle.image.data as data
from textcycle.image.translate import main

from .helpers import png_header_only, tree_hashes, truncate


def one_error_line(err: str, needle: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err


def test_files_folders_and_the_html_page(tmp_path, tiny, trained_run, capsys):
    out, page = tmp_path / "out", tmp_path / "page.html"
    assert (
        main(
            [
                "--model",
                str(trained_run),
                "--to",
                "B",
                str(tiny / "testA"),
                str(tiny / "trainA" / "0.png"),
                "--out",
                str(out),
                "--html",
                str(page),
            ]
        )
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == ["0.png", "0_2.png", "1.png", "2.png", "3.png"]  # two inputs named 0: both kept
    assert Image.open(out / "0.png").size == (16, 16)
    html = page.read_text()
    assert html.count("<tr>") == 2 + 8 and "reconstruction" in html
    assert len(list((tmp_path / "page_images").iterdir())) == 3 * 8
    assert "wrote 5 image(s)" in capsys.readouterr().out


def test_the_grid_of_fixed_test_images(tmp_path, tiny, trained_run, capsys):
    """--grid: the first N test images of each domain by name, input | translation | reconstruction
    both ways, one row each; the same every run; never replaced without --overwrite."""
    grid = tmp_path / "grid.png"
    args = ["--model", str(trained_run), "--grid", str(grid), "--max-images", "2"]
    assert main(args) == 0
    im = Image.open(grid)
    assert im.height == 2 * 16 + 2  # two rows of 16 px images, a 2 px gap
    assert im.width == 6 * 16 + max(2, 16 // 8)  # 3 images a side, and the gap between the sides
    first = grid.read_bytes()
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0 and grid.read_bytes() == first
    assert main(["--model", str(trained_run), "--grid", str(tmp_path / "grid.jpg")]) == 2


def test_out_equal_to_the_input_folder_is_refused_and_inputs_are_kept(tmp_path, tiny, trained_run, capsys):
    """Before: the translations of 0.png and 2.png replaced the input images themselves."""
    folder = tmp_path / "photos"
    shutil.copytree(tiny / "testA", folder)  # 0.png 1.jpg 2.png 3.jpg
    before = tree_hashes(folder)
    assert main(["--model", str(trained_run), "--to", "B", str(folder), "--out", str(folder)]) == 2
    one_error_line(capsys.readouterr().err, "it is the input image")
    assert tree_hashes(folder) == before
    # not even with --overwrite, and not through another spelling of the path
    assert (
        main(
            [
                "--model",
                str(trained_run),
                "--to",
                "B",
                str(folder / "0.png"),
                "--overwrite",
                "--out",
                str(folder / ".." / folder.name),
            ]
        )
        == 2
    )
    one_error_line(capsys.readouterr().err, "it is the input image")
    assert tree_hashes(folder) == before


def test_an_output_named_like_another_input_is_refused(tmp_path, tiny, trained_run, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(tiny / "testA" / "1.jpg", folder / "a.jpg")  # a.jpg's translation would be a.png ...
    shutil.copy(tiny / "testA" / "0.png", folder / "a.png")  # ... another input (its own would be a_2.png)
    before = tree_hashes(folder)
    assert main(["--model", str(trained_run), "--to", "B", str(folder), "--out", str(folder), "--overwrite"]) == 2
    one_error_line(capsys.readouterr().err, "a.png: it is the input image")
    assert tree_hashes(folder) == before
    assert main(["--model", str(trained_run), "--to", "B", str(folder), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "a_2.png"]


def test_existing_outputs_need_overwrite(tmp_path, tiny, trained_run, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "0.png").write_bytes(b"mine")
    (out / "2.png").write_bytes(b"also mine")
    (out / "keep.txt").write_text("unrelated")
    argv = ["--model", str(trained_run), "--to", "B", str(tiny / "testA"), "--out", str(out)]
    assert main(argv) == 2
    one_error_line(capsys.readouterr().err, "2 of the 4 output file(s) already exist")
    assert (out / "0.png").read_bytes() == b"mine" and not (out / "1.png").exists()  # nothing written
    assert main([*argv, "--overwrite"]) == 0
    assert Image.open(out / "0.png").size == (16, 16) and (out / "keep.txt").read_text() == "unrelated"
    assert len(list(out.glob("*.png"))) == 4


def test_a_truncated_jpeg_is_skipped_and_the_rest_translated(tmp_path, tiny, trained_run, capsys):
    """Before: `error: cannot read image ...`, exit 2 and no output at all."""
    bad = truncate(tiny / "trainA" / "1.jpg", tiny / "testA" / "broken.jpg")
    out = tmp_path / "out"
    assert main(["--model", str(trained_run), "--to", "A", str(tiny / "testA"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: skipped" in err and bad.name in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png", "3.png"]
    assert main(["--model", str(trained_run), "--to", "A", str(bad), "--out", str(tmp_path / "o2")]) == 2
    one_error_line(capsys.readouterr().err, "none of the 1 input image(s) could be read")


def test_too_large_and_non_image_inputs_are_skipped(tmp_path, tiny, trained_run, monkeypatch, capsys):
    bomb = png_header_only(tmp_path / "bomb.png", 14000, 14000)  # over Pillow's limit: a traceback before
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    out = tmp_path / "out"
    assert (
        main(
            [
                "--model",
                str(trained_run),
                "--to",
                "B",
                str(bomb),
                str(text),
                str(tiny / "testB" / "0.png"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "14000x14000" in err and "notes.png" in err and "Traceback" not in err and "DecompressionBomb" not in err
    assert sorted(p.name for p in out.iterdir()) == ["0.png"]
    monkeypatch.setattr(data, "MAX_PIXELS", 100)  # every 16x16 test image is now too large
    assert main(["--model", str(trained_run), "--to", "B", str(tiny / "testB" / "1.jpg"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "16x16 pixels, over the limit of 100 pixels" in err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--out", "FILE"], "is a file"),
        (["--html", "page.txt"], "must end in .html"),
    ],
)
def test_bad_output_paths(tmp_path, tiny, trained_run, capsys, argv, needle):
    (tmp_path / "FILE").write_text("x")
    argv = [a if a not in ("FILE", "page.txt") else str(tmp_path / a) for a in argv]
    extra = ["--to", "B", str(tiny / "testA")] if "--out" in argv else []
    assert main(["--model", str(trained_run), *extra, *argv]) == 2
    one_error_line(capsys.readouterr().err, needle)
    assert (tmp_path / "FILE").read_text() == "x"
