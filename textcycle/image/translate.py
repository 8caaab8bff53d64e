"""Translate images with a trained CycleGAN.

    python -m textcycle.image.translate --model horse2zebra horse1.jpg photos/      # into translated/
    python -m textcycle.image.translate --model runs/horse2zebra-64 --to B horse1.jpg --out out/
    python -m textcycle.image.translate --model runs/horse2zebra-64 --html out/test.html

The first two forms write each input's translation to --out (default translated/; same name, .png),
towards --to (a bundled name, horse2zebra or zebra2horse, brings its own). They never write over an
input file, and refuse to replace files already in --out unless --overwrite is given; inputs that
cannot be read (a truncated JPEG, an image too large to decode) are skipped with a warning. The
third writes an HTML page of the model's test sets (testA -> B and testB -> A): input, translation
and reconstruction side by side, with the images beside it (in PAGE_images/; an existing page or
image there is replaced only with --overwrite). --model is a model folder or a run folder
(its final/ model, or its newest checkpoint while it trains).
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from pathlib import Path

import torch

from ..cli import entry_point, thread_count_or_zero
from ..errors import TextcycleError, warn
from ..files import atomic_file, atomic_write_text, check_output_folder
from .data import ImageFolder, fixed_samples, list_images, normalize, resized, to_pil
from .model import ImageCycleModel, hstack, sample_grid, vstack


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


def output_paths(paths: list[Path], out_dir: Path) -> list[Path]:
    """out_dir/<input name>.png for each input; a repeated name (inputs from two folders) gets _2, _3 ..."""
    dests, used = [], set()
    for p in paths:
        name, n = p.stem, 1
        while name in used:
            n += 1
            name = f"{p.stem}_{n}"
        used.add(name)
        dests.append(out_dir / f"{name}.png")
    return dests


def check_outputs(paths: list[Path], dests: list[Path], out_dir: Path, overwrite: bool) -> None:
    """Refuse, before anything is written: an output that is an input (always), an output path
    that is a folder, and outputs that already exist (unless `overwrite`)."""
    check_output_folder(out_dir, "--out")
    inputs = {os.path.realpath(p): p for p in paths}
    for dest in dests:
        src = inputs.get(os.path.realpath(dest))
        if src is None and dest.exists():
            src = next((p for p in paths if os.path.samefile(p, dest)), None)
        if src is not None:
            raise TextcycleError(f"refusing to write {dest}: it is the input image {src}; pick another --out")
    existing = [d for d in dests if d.exists() or d.is_symlink()]
    folders = [d for d in existing if d.is_dir()]
    if folders:
        raise TextcycleError(f"cannot write {folders[0]}: it is a folder")
    if existing and not overwrite:
        raise TextcycleError(
            f"{len(existing)} of the {len(dests)} output file(s) already exist in {out_dir} "
            f"(e.g. {existing[0].name}); pass --overwrite to replace them"
        )


def save_png(img, dest: Path) -> None:
    """Write a PNG under a temporary name, then rename: a full disk leaves no empty or cut
    file under `dest` (which a rerun would then refuse to replace)."""
    try:
        with atomic_file(dest) as tmp:
            img.save(tmp, format="PNG")
    except OSError as e:
        raise TextcycleError(f"cannot write {dest}: {e.strerror or e}") from None


def check_page_outputs(page: Path, images: list[Path], inputs: list[Path], overwrite: bool) -> None:
    """Refuse, before any work, what `check_outputs` refuses for the HTML page and its images:
    an output that is an input, a folder in the way, existing files without `overwrite`."""
    if page.is_dir():
        raise TextcycleError(f"--html {page} is a folder")
    check_output_folder(images[0].parent if images else page.parent, "the page's image folder")
    check_outputs(inputs, [page, *images], page.parent, overwrite=True)  # inputs and folders
    existing = [d for d in (page, *images) if d.exists() or d.is_symlink()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more of the page's files)" if len(existing) > 1 else ""
        raise TextcycleError(f"{existing[0]} already exists{more}; pass --overwrite to replace")


@torch.no_grad()
def translate_paths(model, paths, to: str, out_dir, batch_size: int = 16, overwrite: bool = False) -> list[Path]:
    """Translate image files towards domain `to` ("A" or "B") with `model` (an ImageCycleModel or a
    folder); write PNGs into out_dir. Unreadable inputs are skipped with a warning."""
    if to not in ("A", "B"):
        raise TextcycleError(f"--to must be A or B, not {to!r}")
    if not isinstance(model, ImageCycleModel):
        model = ImageCycleModel.from_pretrained(model)
    paths = [Path(p) for p in paths]
    out_dir = Path(out_dir)
    dests = output_paths(paths, out_dir)
    check_outputs(paths, dests, out_dir, overwrite)
    size, channels = model.cfg.data.crop_size, model.cfg.data.channels
    written, skipped = [], 0
    for i in range(0, len(paths), batch_size):
        images, targets = [], []
        for p, dest in zip(paths[i : i + batch_size], dests[i : i + batch_size]):
            try:
                images.append(resized(p, size, channels))
                targets.append(dest)
            except TextcycleError as e:
                warn(f"skipped: {e}")
                skipped += 1
        if not images:
            continue
        fake = model.translate(normalize(torch.stack(images)), to)
        out_dir.mkdir(parents=True, exist_ok=True)
        for dest, img in zip(targets, fake):
            save_png(to_pil(img), dest)
            written.append(dest)
    if not written:
        raise TextcycleError(f"none of the {len(paths)} input image(s) could be read")
    return written


@torch.no_grad()
def html_report(model, out_html, data_root=None, max_images: int = 30, overwrite: bool = False) -> Path:
    """An HTML page of the test sets: input | translation | reconstruction, for both directions.
    Like the translations, it never replaces a file (the page, its images) without `overwrite`."""
    out_html = Path(out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        raise TextcycleError(f"--html {out_html}: the page's name must end in .html")
    if not isinstance(model, ImageCycleModel):
        model = ImageCycleModel.from_pretrained(model)
    cfg = model.cfg
    root = Path(data_root or cfg.data.root)
    folders = {src: ImageFolder(root / f"test{src}", cfg.data.crop_size, cfg.data.channels, max_images) for src in "AB"}
    img_dir = out_html.parent / (out_html.stem + "_images")
    names = [
        img_dir / f"{src}_{p.stem}_{kind}.png"
        for src in "AB"
        for p in folders[src].paths
        for kind in ("input", "fake", "rec")
    ]
    check_page_outputs(out_html, names, folders["A"].paths + folders["B"].paths, overwrite)
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>CycleGAN test results</title>"
        f"<style>body{{font-family:sans-serif}} img{{width:{max(128, cfg.data.crop_size)}px;"
        f"image-rendering:pixelated}} td{{text-align:center;font-size:12px}}</style>"
        f"<h1>{html.escape(str(model.path or 'CycleGAN'))}</h1>"
    ]
    for src, tgt in (("A", "B"), ("B", "A")):
        folder = folders[src]
        x = normalize(torch.stack([folder[i] for i in range(len(folder))]))
        fake = model.translate(x, tgt)
        rec = model.translate(fake, src)
        parts.append(
            f"<h2>test{src}: {src} &rarr; {tgt} &rarr; {src}</h2><table>"
            f"<tr><th>input ({src})</th><th>translation ({tgt})</th><th>reconstruction ({src})</th></tr>"
        )
        for p, a, b, c in zip(folder.paths, x, fake, rec):
            cells = []
            for kind, t in (("input", a), ("fake", b), ("rec", c)):
                name = f"{src}_{p.stem}_{kind}.png"
                save_png(to_pil(t), img_dir / name)
                cells.append(f"<td><img src='{html.escape(img_dir.name)}/{html.escape(name)}'></td>")
            parts.append("<tr>" + "".join(cells) + f"<td>{html.escape(p.name)}</td></tr>")
        parts.append("</table>")
    try:
        atomic_write_text(out_html, "\n".join(parts) + "\n")
    except OSError as e:
        raise TextcycleError(f"cannot write {out_html}: {e.strerror or e}") from None
    return out_html


def picture_and_model(out_png, flag: str, model, overwrite: bool):
    """The checked PNG path of a picture (--grid, --strip) and the loaded model: a name that is not
    .png, or an existing file without `overwrite`, is refused before the model loads."""
    out_png = Path(out_png)
    if out_png.suffix.lower() != ".png":
        raise TextcycleError(f"{flag} {out_png}: the picture's name must end in .png")
    if out_png.exists() and not overwrite:
        raise TextcycleError(f"{out_png} exists: pass --overwrite to replace it")
    if not isinstance(model, ImageCycleModel):
        model = ImageCycleModel.from_pretrained(model)
    return out_png, model


def grid_image(model, out_png, data_root=None, n: int = 8, overwrite: bool = False) -> Path:
    """A PNG of the first `n` test images by name of each domain (the same every run), each with
    its translation and reconstruction: the sample grid of training, for a README or a model card."""
    out_png, model = picture_and_model(out_png, "--grid", model, overwrite)
    real_A, real_B = fixed_samples(model.cfg, n, data_root)
    save_png(sample_grid(model, real_A, real_B), out_png)
    return out_png


def strip_image(model, out_png, to: str, data_root=None, n: int = 8, overwrite: bool = False) -> Path:
    """A PNG of two rows: the first `n` test images by name of the other domain, and below each its
    translation into `to` (the README's and the model card's picture of a model)."""
    out_png, model = picture_and_model(out_png, "--strip", model, overwrite)
    real = fixed_samples(model.cfg, n, data_root)[0 if to == "B" else 1]
    fake = model.translate(real, to)
    rows = [hstack([to_pil(t) for t in row], gap=2) for row in (real, fake)]
    save_png(vstack(rows, gap=2), out_png)
    return out_png


@entry_point
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.image.translate", description=__doc__.splitlines()[0])
    p.add_argument(
        "--model",
        required=True,
        help="a bundled model (horse2zebra, zebra2horse), a model folder, or a run folder (train.output_dir)",
    )
    p.add_argument("--to", choices=("A", "B"), help="target domain of the translation (a bundled name sets it)")
    p.add_argument("inputs", nargs="*", help="image files and/or folders")
    p.add_argument("--out", default="translated", help="output folder for the translations (default: translated)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace files already in --out, or the --html page (never an input)"
    )
    p.add_argument("--html", help="write an HTML page of the test-set results here")
    p.add_argument(
        "--grid",
        help="write a PNG of the first 8 test images of each domain by name (--max-images to change) with "
        "their translations and reconstructions",
    )
    p.add_argument(
        "--strip",
        help="write a PNG of the first 8 test images of the source domain by name over their translations into --to",
    )
    p.add_argument("--data", default=None, help="dataset root for --html, --grid and --strip (default: the model's)")
    p.add_argument(
        "--max-images", type=int, default=None, help="test images per domain in --html (default 30) and --grid (8)"
    )
    p.add_argument("--threads", type=thread_count_or_zero, default=1, help="torch threads (0 = torch's default)")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not args.inputs and not args.html and not args.grid and not args.strip:
        p.error("give input images, --html, --grid or --strip")
    model = ImageCycleModel.from_pretrained(args.model)
    to = args.to or model.default_to
    if (args.inputs or args.strip) and not to:
        raise TextcycleError("translating images needs --to A|B (the target domain) with this model")
    if args.inputs:
        written = translate_paths(model, collect_inputs(args.inputs), to, args.out, overwrite=args.overwrite)
        print(f"wrote {len(written)} image(s) to {args.out}")
    if args.html:
        print(f"wrote {html_report(model, args.html, args.data, args.max_images or 30, args.overwrite)}")
    if args.grid:
        print(f"wrote {grid_image(model, args.grid, args.data, args.max_images or 8, args.overwrite)}")
    if args.strip:
        print(f"wrote {strip_image(model, args.strip, to, args.data, args.max_images or 8, args.overwrite)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
