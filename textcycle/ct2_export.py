"""`python -m textcycle.ct2_export MODEL_DIR`: add CTranslate2 copies (the fast engine) to an
existing model folder, in place, touching no other file (the conversion: `textcycle.engines.ct2_convert`).

    python -m textcycle.ct2_export textcycle/pretrained/yelp                  # the default storage
    python -m textcycle.ct2_export runs/yelp/best --quantization float16
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from .cli import entry_point, thread_count
from .engines.ct2_convert import DEFAULT_QUANTIZATION, QUANTIZATIONS, export_ctranslate2, folder_size
from .engines.ct2_format import CT2_DIR
from .errors import TextcycleError
from .model_folder import ModelFolder


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m textcycle.ct2_export",
        description="Add CTranslate2 copies of the generators to a model folder "
        "(MODEL_DIR/ct2/), for rewriting without torch.",
    )
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a textcycle model folder (or a bundled name: yelp, zh)")
    p.add_argument(
        "--quantization",
        default=DEFAULT_QUANTIZATION,
        choices=QUANTIZATIONS,
        help="how the weights are stored (default %(default)s)",
    )
    p.add_argument("--threads", type=thread_count, default=2, help="torch threads while converting (default 2)")
    return p


@entry_point
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from .text.model import TextCycleModel

    torch.set_num_threads(max(1, args.threads))
    model_folder = ModelFolder.open(args.model_dir)
    folder = model_folder.path
    if not os.access(folder, os.W_OK):
        raise TextcycleError(f"{folder} is not writable")
    model = TextCycleModel.from_pretrained(model_folder)
    out = export_ctranslate2(model, folder, args.quantization)
    leftover = [p for p in folder.iterdir() if p.name.startswith(f".{CT2_DIR}.")]
    for p in leftover:  # a killed earlier export's temporary folder
        shutil.rmtree(p, ignore_errors=True)
    print(
        f"wrote {out} ({args.quantization}, {folder_size(out) / 2**20:.1f} MiB; "
        f"folder now {folder_size(folder) / 2**20:.1f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
