"""The `textcycle` command: one entry point, a subcommand per module.

textcycle rewrite "the food was cold"      = python -m textcycle.rewrite ...
textcycle train --config configs/yelp.yaml = python -m textcycle.train ...
textcycle evaluate DIR --data ...          = python -m textcycle.evaluate ...
"""

from __future__ import annotations

import errno
import functools
import importlib
import os
import sys

from .errors import TextcycleError

COMMANDS = {
    "rewrite": ("textcycle.rewrite", "rewrite sentences into the other style"),
    "train": ("textcycle.text.train", "train a text model (also under accelerate launch)"),
    "evaluate": ("textcycle.evaluate.__main__", "score system outputs; --leaderboard"),
    "train-classifier": ("textcycle.evaluate.train_classifier", "retrain the evaluation classifier"),
    "train-lm": ("textcycle.evaluate.train_lm", "retrain the perplexity language model"),
    "evaluate-split": ("textcycle.evaluate.split_eval", "score rewrites of a config's own test split (no references)"),
    "bundle": ("textcycle.text.bundle", "test-set outputs, scores, fp16 copy and model card of a run"),
    "ct2-export": ("textcycle.ct2_export", "add CTranslate2 copies (the fast engine) to a model folder"),
    "serve": ("textcycle.serve.__main__", "HTTP API and web page for rewriting (the [serve] extra)"),
    "data": ("textcycle.text.data", "load the corpus a config names and print its sizes"),
    "sentence-filter": ("textcycle.text.sentence_filter", "keep the style-bearing training sentences of a config"),
    "ptt": ("textcycle.ptt.__main__", "parse / crawl PTT push and boo comments"),
    "image-train": ("textcycle.image.train", "train the image CycleGAN"),
    "image-translate": ("textcycle.image.translate", "translate images with a trained CycleGAN"),
    "image-evaluate": ("textcycle.image.evaluate", "offline metrics for an image model"),
    "mnist": ("textcycle.image.mnist", "the MNIST thickening task with ground truth"),
}


# --threads 100000 made the native libraries abort or crash (issue 24): 256, or 4 per core on a
# machine with more than 64 of them
MAX_THREADS = max(256, 4 * (os.cpu_count() or 1))


def check_threads(n, zero_ok: bool = False) -> int:
    """`n` as a thread count, from 1 (0 where it stands for the library's default) to MAX_THREADS:
    the one bound of every command's --threads and of `Rewriter.from_pretrained`."""
    low = 0 if zero_ok else 1
    if isinstance(n, bool) or not isinstance(n, int) or not low <= n <= MAX_THREADS:
        raise TextcycleError(f"--threads must be an integer from {low} to {MAX_THREADS}, got {n!r}")
    return n


def _threads_arg(text: str, zero_ok: bool) -> int:
    # a TextcycleError, not argparse's own error: under `entry_point` it is the command's usual one line
    try:
        n = int(text)
    except ValueError:
        n = text
    return check_threads(n, zero_ok)


def thread_count(text: str) -> int:
    """argparse `type=` of --threads: 1 to MAX_THREADS."""
    return _threads_arg(text, zero_ok=False)


def thread_count_or_zero(text: str) -> int:
    """argparse `type=` of --threads where 0 means the library's default: 0 to MAX_THREADS."""
    return _threads_arg(text, zero_ok=True)


FULL_DISK = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # a write failed for want of room


class OutputError(TextcycleError):
    """The command's output could not be written (a full disk, /dev/full)."""


def write_stdout(text: str) -> None:
    """Write `text` to stdout, all of it, and flush: a failed write is an `OutputError` (one
    line, exit 2), never a traceback. Written in a loop on the bytes, because unbuffered stdout
    (python -u, PYTHONUNBUFFERED) drops what a short write leaves out: on a full tmpfs the output
    stopped at 8,192 bytes, exit 0. A closed pipe stays a `BrokenPipeError`, which `entry_point`
    ends quietly."""
    out = sys.stdout
    if out is None:  # no stdout at all (a detached process): nothing to write to
        return
    try:
        out.flush()
        buf = getattr(out, "buffer", None)
        if buf is None:  # a text-only stream (a test's StringIO)
            out.write(text)
            return
        data = memoryview(text.encode(out.encoding or "utf-8", out.errors or "strict"))
        while data:
            n = buf.write(data)
            if not n:
                raise OSError(errno.EIO, "the output stream took nothing")
            data = data[n:]
        buf.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        raise OutputError(f"cannot write the output: {e.strerror or e}") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit has nothing left to fail on."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def entry_point(main):
    """Wrap a command's `main(argv)`: a `TextcycleError` becomes one line on stderr and exit
    status 2, Ctrl-C exit 130 with a word, and a closed stdout (`| head -1`) a quiet stop.
    stdout is flushed before the command ends, so a write that fails late (a full disk) is an
    error too. Every command uses it, so no command ends in a traceback for a problem a user can fix."""

    @functools.wraps(main)
    def run(argv=None) -> int:
        try:
            code = main(argv) or 0
            write_stdout("")
            return code
        except TextcycleError as e:
            if isinstance(e, OutputError):
                _silence_stdout()
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"interrupted{getattr(run, 'interrupt_note', '')}", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # the reader went away: stop writing, and keep Python from complaining at exit
            _silence_stdout()
            return 0
        except OSError as e:  # a print() or a file write on a full disk: the user's to fix, not a bug
            if e.errno not in FULL_DISK:
                raise
            _silence_stdout()
            print(f"error: cannot write{' ' + str(e.filename) if e.filename else ''}: {e.strerror}", file=sys.stderr)
            return 2

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
