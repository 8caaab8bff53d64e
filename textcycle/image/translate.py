"""Translate images with a trained CycleGAN.

    python -m textcycle.image.translate --model runs/horse2zebra-64 --to B horse1.jpg photos/ --out out/
    python -m textcycle.image.translate --model runs/horse2zebra-64 --html out/test.html

The first form writes each input's translation to --out (same name, .png). The second writes an
HTML page of the model's test sets (testA -> B and testB -> A): input, translation and
reconstruction side by side, with the images beside it.
"""
from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

import torch

from ..files import atomic_write_text
from ..errors import TextcycleError
from .data import list_images, load_batch, to_pil
from .export import load_generators


def collect_inputs(items) -> list[Path]:
    """Files and folders (their images, non-recursively) -> image paths."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths += list_images(p)
        elif p.is_file():
            paths.append(p)
        else:
            raise TextcycleError(f"input not found: {p}")
    if not paths:
        raise TextcycleError("no input images")
    return paths


@torch.no_grad()
def translate_paths(model_dir, paths, to: str, out_dir, batch_size: int = 16) -> list[Path]:
    """Translate image files towards domain `to` ("A" or "B"); write PNGs into out_dir."""
    if to not in ("A", "B"):
        raise TextcycleError(f"--to must be A or B, not {to!r}")
    cfg, gens = load_generators(model_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for i in range(0, len(paths), batch_size):
        chunk = paths[i:i + batch_size]
        fake = gens[to](load_batch(chunk, cfg.data.crop_size, cfg.data.channels))
        for p, img in zip(chunk, fake):
            name, n = p.stem, 1
            while name in used:  # two inputs with one name (from different folders): keep both
                n += 1
                name = f"{p.stem}_{n}"
            used.add(name)
            dest = out_dir / f"{name}.png"
            to_pil(img).save(dest)
            written.append(dest)
    return written


@torch.no_grad()
def html_report(model_dir, out_html, data_root=None, max_images: int = 30) -> Path:
    """An HTML page of the test sets: input | translation | reconstruction, for both directions."""
    cfg, gens = load_generators(model_dir)
    root = Path(data_root or cfg.data.root)
    out_html = Path(out_html)
    img_dir = out_html.parent / (out_html.stem + "_images")
    img_dir.mkdir(parents=True, exist_ok=True)
    parts = [f"<!doctype html><meta charset='utf-8'><title>CycleGAN test results</title>"
             f"<style>body{{font-family:sans-serif}} img{{width:{max(128, cfg.data.crop_size)}px;"
             f"image-rendering:pixelated}} td{{text-align:center;font-size:12px}}</style>"
             f"<h1>{html.escape(str(model_dir))}</h1>"]
    for src, tgt in (("A", "B"), ("B", "A")):
        paths = list_images(root / f"test{src}", max_images)
        x = load_batch(paths, cfg.data.crop_size, cfg.data.channels)
        fake = gens[tgt](x)
        rec = gens[src](fake)
        parts.append(f"<h2>test{src}: {src} &rarr; {tgt} &rarr; {src}</h2><table>"
                     f"<tr><th>input ({src})</th><th>translation ({tgt})</th><th>reconstruction ({src})</th></tr>")
        for p, a, b, c in zip(paths, x, fake, rec):
            cells = []
            for kind, t in (("input", a), ("fake", b), ("rec", c)):
                name = f"{src}_{p.stem}_{kind}.png"
                to_pil(t).save(img_dir / name)
                cells.append(f"<td><img src='{html.escape(img_dir.name)}/{html.escape(name)}'></td>")
            parts.append("<tr>" + "".join(cells) + f"<td>{html.escape(p.name)}</td></tr>")
        parts.append("</table>")
    atomic_write_text(out_html, "\n".join(parts) + "\n")
    return out_html


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.image.translate", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a trained model folder (train.output_dir)")
    p.add_argument("--to", choices=("A", "B"), help="target domain of the translation")
    p.add_argument("inputs", nargs="*", help="image files and/or folders")
    p.add_argument("--out", help="output folder for the translations")
    p.add_argument("--html", help="write an HTML page of the test-set results here")
    p.add_argument("--data", default=None, help="dataset root for --html (default: the model's)")
    p.add_argument("--max-images", type=int, default=30, help="test images per domain in --html")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not args.inputs and not args.html:
        p.error("give input images (with --to and --out) or --html")
    if args.inputs and not (args.to and args.out):
        p.error("translating images needs --to A|B and --out DIR")
    try:
        if args.inputs:
            written = translate_paths(args.model, collect_inputs(args.inputs), args.to, args.out)
            print(f"wrote {len(written)} image(s) to {args.out}")
        if args.html:
            print(f"wrote {html_report(args.model, args.html, args.data, args.max_images)}")
    except TextcycleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
