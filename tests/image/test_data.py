"""textcycle.image.data: folders, transforms, files that are skipped (not images, broken, too large)."""

import warnings

import numpy as np
import pytest
from PIL import Image

import textcycle.image.data as data
from textcycle.errors import TextcycleError
from textcycle.image.config import load_image_config
from textcycle.image.data import ImageTooLarge, UnalignedDataset, fixed_samples, list_images, load_image

from .helpers import png_header_only, tiny_config, truncate

SIZES = ["data.load_size=18", "data.crop_size=16"]


def test_dataset(tiny):
    cfg = load_image_config(None, [f"data.root={tiny}", *SIZES])
    ds = UnalignedDataset(cfg.data, "train")
    assert len(ds) == 8  # the larger domain
    item = ds[7]
    assert item["A"].shape == (3, 16, 16) and item["B"].shape == (3, 16, 16)
    assert item["A"].min() >= -1 and item["A"].max() <= 1 and item["A"].mean() < item["B"].mean()
    ds.set_epoch(3)
    again = UnalignedDataset(cfg.data, "train")
    again.set_epoch(3)
    assert all((ds[i]["B"] == again[i]["B"]).all() for i in range(len(ds)))  # choices depend on (seed, epoch, i)


def test_bad_files_are_skipped_with_a_warning(tiny, capsys):
    (tiny / "trainA" / "notes.txt").write_text("not an image")
    truncate(tiny / "trainA" / "1.jpg", tiny / "trainA" / "broken.jpg")
    cfg = load_image_config(None, [f"data.root={tiny}", *SIZES])
    ds = UnalignedDataset(cfg.data, "train")
    err = capsys.readouterr().err
    assert "notes.txt" in err and "broken.jpg" in err
    assert len(ds.A) == 6
    empty = tiny / "empty"
    empty.mkdir()
    with pytest.raises(TextcycleError, match="no images"):
        list_images(empty)
    with pytest.raises(TextcycleError, match="image folder not found"):
        list_images(tiny / "missing")


def big_image(folder, name="big.png", side=40):
    Image.fromarray(np.full((side, side, 3), 128, np.uint8)).save(folder / name)
    return folder / name


def test_images_over_the_pixel_limit_are_skipped_with_their_size(tiny, monkeypatch, capsys):
    big_image(tiny / "trainA")  # 40 x 40 = 1600 pixels
    monkeypatch.setattr(data, "MAX_PIXELS", 1000)
    found = list_images(tiny / "trainA")
    assert "big.png" not in [p.name for p in found] and len(found) == 6
    err = capsys.readouterr().err
    assert "warning: skipped" in err and "40x40 pixels" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ImageTooLarge, match="40x40"):
        load_image(tiny / "trainA" / "big.png")


def test_pillow_decompression_bomb_check_gives_no_traceback_nor_raw_warning(tiny, monkeypatch, capsys):
    """Pillow raises DecompressionBombError over 2 x MAX_IMAGE_PIXELS (a traceback before) and warns
    over 1 x (raw DecompressionBombWarning text before): our limit replaces both."""
    big_image(tiny / "trainA", "bomb.png", side=40)  # 1600 pixels: > 2 x 700, Pillow would raise
    big_image(tiny / "trainB", "warns.png", side=30)  # 900 pixels: between 1 x and 2 x 700, Pillow would warn
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 700)
    monkeypatch.setattr(data, "MAX_PIXELS", 700)
    cfg = load_image_config(None, [f"data.root={tiny}", *SIZES])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the test
        ds = UnalignedDataset(cfg.data, "train")
    assert (len(ds.A), len(ds.B)) == (6, 8)
    err = capsys.readouterr().err
    assert "40x40" in err and "30x30" in err and "DecompressionBomb" not in err
    assert Image.MAX_IMAGE_PIXELS == 700  # Pillow's own setting is left as it was


def test_a_bomb_header_with_pillows_default_limit(tiny, capsys):
    """A PNG that declares 14000 x 14000 pixels: Pillow's DecompressionBombError before."""
    png_header_only(tiny / "testA" / "bomb.png", 14000, 14000)
    assert len(list_images(tiny / "testA")) == 4
    assert "14000x14000" in capsys.readouterr().err
    with pytest.raises(ImageTooLarge, match="14000x14000"):
        load_image(tiny / "testA" / "bomb.png")


def test_lazy_folders_and_grayscale(tiny):
    cfg = load_image_config(None, [f"data.root={tiny}", *SIZES, "data.cache=false", "data.channels=1"])
    ds = UnalignedDataset(cfg.data, "test")
    assert ds.A.cache is None and ds[0]["A"].shape == (1, 16, 16)


def test_fixed_samples_from_test_folders_else_train(tmp_path, tiny):
    cfg = load_image_config(tiny_config(tmp_path, tiny, sample_images=3))
    a, b = fixed_samples(cfg)
    assert a.shape == (3, 3, 16, 16) and b.shape == (3, 3, 16, 16)
    import shutil

    shutil.rmtree(tiny / "testB")
    assert fixed_samples(cfg)[1].shape == (3, 3, 16, 16)  # from trainB
