"""The `textcycle` command: one entry point, a subcommand per module.

    textcycle rewrite "the food was cold"      = python -m textcycle.rewrite ...
    textcycle train --config configs/yelp.yaml = python -m textcycle.train ...
    textcycle evaluate DIR --data ...          = python -m textcycle.evaluate ...
"""
from __future__ import annotations

import functools
import importlib
import os
import sys

COMMANDS = {
    "rewrite": ("textcycle.rewrite", "rewrite sentences into the other style"),
    "train": ("textcycle.train", "train a text model (also under accelerate launch)"),
    "evaluate": ("textcycle.evaluate.__main__", "score system outputs; --leaderboard"),
    "train-classifier": ("textcycle.evaluate.train_classifier", "retrain the evaluation classifier"),
    "train-lm": ("textcycle.evaluate.train_lm", "retrain the perplexity language model"),
    "evaluate-split": ("textcycle.evaluate.split_eval", "score rewrites of a config's own test split (no references)"),
    "bundle": ("textcycle.bundle", "test-set outputs, scores, fp16 copy and model card of a run"),
    "ct2-export": ("textcycle.ct2_export", "add CTranslate2 copies (the fast engine) to a model folder"),
    "serve": ("textcycle.serve.__main__", "HTTP API and web page for rewriting (the [serve] extra)"),
    "data": ("textcycle.data", "load the corpus a config names and print its sizes"),
    "sentence-filter": ("textcycle.sentence_filter", "keep the style-bearing training sentences of a config"),
    "ptt": ("textcycle.ptt.__main__", "parse / crawl PTT push and boo comments"),
    "image-train": ("textcycle.image.train", "train the image CycleGAN"),
    "image-translate": ("textcycle.image.translate", "translate images with a trained CycleGAN"),
    "image-evaluate": ("textcycle.image.evaluate", "offline metrics for an image model"),
    "mnist": ("textcycle.image.mnist", "the MNIST thickening task with ground truth"),
}


def entry_point(main):
    """Wrap a command's `main(argv)`: a `TextcycleError` becomes one line on stderr and exit
    status 2, Ctrl-C exit 130 with a word, and a closed stdout (`| head -1`) a quiet stop.
    Every command uses it, so no command ends in a traceback for a problem a user can fix."""
    from .errors import TextcycleError

    @functools.wraps(main)
    def run(argv=None) -> int:
        try:
            return main(argv) or 0
        except TextcycleError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"interrupted{getattr(run, 'interrupt_note', '')}", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # the reader went away: stop writing, and keep Python from complaining at exit
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except OSError:
                pass
            return 0

    return run


def usage() -> str:
    rows = "\n".join(f"  {name:<17}{help_}" for name, (_, help_) in COMMANDS.items())
    return f"usage: textcycle COMMAND [ARGS...]\n\ncommands:\n{rows}\n\n`textcycle COMMAND --help` for each."


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r} (one of: {', '.join(COMMANDS)}; see textcycle --help)", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    sys.argv = [f"textcycle {name}", *rest]
    return module.main(rest) or 0


if __name__ == "__main__":
    sys.exit(main())
