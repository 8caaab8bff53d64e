"""textcycle.image.evaluate: FD / KID / PSNR on known inputs, the command on a trained run."""

import json

import numpy as np
import pytest
import torch

from textcycle.image.evaluate import frechet_distance, kernel_inception_distance, main, markdown_table, psnr


def test_metrics_on_known_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    # same covariance, mean shifted by 2 in one dimension: FD = 4
    assert frechet_distance(x, x + np.eye(8)[0] * 2) == pytest.approx(4.0, abs=1e-6)
    # N(0, I) vs N(0, 4I) in 8 dims: FD = 8 * (1 + 4 - 2 * 2) = 8 (up to sampling noise)
    assert frechet_distance(rng.normal(size=(20000, 8)), 2 * rng.normal(size=(20000, 8))) == pytest.approx(8, rel=0.05)
    same = kernel_inception_distance(x, rng.normal(size=(400, 8)))
    far = kernel_inception_distance(x, x + 1.0)
    assert abs(same) < 0.05 and far > 1.0
    a = torch.zeros(2, 1, 4, 4)
    assert psnr(a + 0.1, a) == pytest.approx(20.0)  # MSE 0.01 -> 20 dB


def test_evaluate_a_run(tmp_path, trained_run, capsys):
    assert (
        main(
            [
                "--model",
                str(trained_run),
                "--cache",
                str(tmp_path / "clf"),
                "--classifier-epochs",
                "1",
                "--out",
                str(tmp_path / "metrics"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| A -> B | CycleGAN: G(testA) |" in out and "identity" in out
    res = json.loads((tmp_path / "metrics.json").read_text())
    assert set(res["directions"]) == {"A->B", "B->A"} and res["test_images"] == {"A": 4, "B": 4}
    assert (tmp_path / "metrics.md").read_text().strip() == out.strip()
    assert len(list((tmp_path / "clf").glob("*.safetensors"))) == 1  # the cached classifier
    assert res["method"] == "cyclegan"
    assert "| A -> B | CUT: G(testA) |" in markdown_table({**res, "method": "cut"})  # a CUT model says so


def test_too_few_test_images_is_an_error(tmp_path, trained_run, capsys):
    assert main(["--model", str(trained_run), "--cache", str(tmp_path / "clf"), "--max-test", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: --max-test must be at least 2")
    assert not (tmp_path / "clf").exists()
