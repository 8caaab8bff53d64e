"""Speed of image translation on this machine, CPU, one run.

    python bench/bench_image.py --model runs/horse2zebra-128          # a trained model or run folder
    python bench/bench_image.py --config configs/horse2zebra-128.yaml # an untrained net of that shape

The speed of a fully convolutional generator depends on its shape and the image size, not on its
weights, so a config gives the same figure as the model it trains. Prints, for one photo at
`--size` x `--size` (the generator runs at any multiple of 4): the seconds to load the model
folder (median of 3; with --config, to build the net), and to translate the photo with the
generator alone and with the whole path of `image.translate` (decode, resize, translate, PNG
encode), median of `--repeats` after one warm-up; and the matmul probe of bench_rewrite.py before
and after. Target (the image quality issue): one 256 x 256 photo in at most 1 s on 2 threads.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import torch  # noqa: E402
from bench_rewrite import matmul_gflops  # noqa: E402
from PIL import Image  # noqa: E402

from textcycle.cli import entry_point, thread_count  # noqa: E402
from textcycle.image.config import load_image_config  # noqa: E402
from textcycle.image.data import list_images, load_image, normalize, to_pil, to_tensor  # noqa: E402
from textcycle.image.model import ImageCycleModel  # noqa: E402
from textcycle.image.networks import build_generator  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="a model folder or run folder")
    src.add_argument("--config", help="an image config: an untrained net of its shape")
    ap.add_argument("--photo", default=None, help="an image (default: the first test image of the data's testA)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=thread_count, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    before = matmul_gflops()
    if args.model:
        load_s = timed(lambda: ImageCycleModel.from_pretrained(args.model), 3)
        model = ImageCycleModel.from_pretrained(args.model)
        cfg, what = model.cfg, args.model
    else:
        cfg = load_image_config(args.config, [])
        load_s = timed(lambda: build_generator(cfg), 3)
        model = ImageCycleModel(cfg, build_generator(cfg), build_generator(cfg)).eval()
        what = f"untrained net of {args.config}"
    photo = Path(args.photo) if args.photo else list_images(Path(cfg.data.root) / "testA")[0]
    x = normalize(to_tensor(load_image(photo).resize((args.size, args.size), Image.BICUBIC))[None])

    def whole() -> None:
        img = to_tensor(load_image(photo, cfg.data.channels).resize((args.size, args.size), Image.BICUBIC))
        out = model.translate(normalize(img[None]), "B")[0]
        to_pil(out).save(io.BytesIO(), format="PNG")

    gen_s = timed(lambda: model.translate(x, "B"), args.repeats)
    whole_s = timed(whole, args.repeats)
    after = matmul_gflops()
    print(
        f"{what}, {args.threads} threads, {args.size} x {args.size}, matmul probe {before:.1f} -> {after:.1f} GFLOP/s\n"
    )
    print("| measure | seconds |\n|---|---:|")
    print(f"| load the model (median of 3) | {load_s:.2f} |")
    print(f"| one photo, the generator alone (median of {args.repeats}) | {gen_s:.3f} |")
    print(f"| one photo, decode + resize + translate + PNG (median of {args.repeats}) | {whole_s:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(entry_point(main)())
