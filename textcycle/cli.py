"""The `textcycle` command: one entry point, a subcommand per module.

    textcycle rewrite "the food was cold"      = python -m textcycle.rewrite ...
    textcycle train --config configs/yelp.yaml = python -m textcycle.train ...
    textcycle evaluate DIR --data ...          = python -m textcycle.evaluate ...
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "rewrite": ("textcycle.rewrite", "rewrite sentences into the other style"),
    "train": ("textcycle.train", "train a text model (also under accelerate launch)"),
    "evaluate": ("textcycle.evaluate.__main__", "score system outputs; --leaderboard"),
    "train-classifier": ("textcycle.evaluate.train_classifier", "retrain the evaluation classifier"),
    "train-lm": ("textcycle.evaluate.train_lm", "retrain the perplexity language model"),
    "evaluate-split": ("textcycle.evaluate.split_eval", "score a model on a config's own test split (no references)"),
    "bundle": ("textcycle.bundle", "test-set outputs, scores, fp16 copy and model card of a run"),
    "ptt": ("textcycle.ptt.__main__", "parse / crawl PTT push and boo comments"),
    "image-train": ("textcycle.image.train", "train the image CycleGAN"),
    "image-translate": ("textcycle.image.translate", "translate images with a trained CycleGAN"),
    "image-evaluate": ("textcycle.image.evaluate", "offline metrics for an image model"),
    "mnist": ("textcycle.image.mnist", "the MNIST thickening task with ground truth"),
}


def usage() -> str:
    rows = "\n".join(f"  {name:<17}{help_}" for name, (_, help_) in COMMANDS.items())
    return f"usage: textcycle COMMAND [ARGS...]\n\ncommands:\n{rows}\n\n`textcycle COMMAND --help` for each."


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    sys.argv = [f"textcycle {name}", *rest]
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
