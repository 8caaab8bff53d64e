"""python -m textcycle.ptt {crawl,ingest}: build a 噓/推 corpus from PTT."""

from __future__ import annotations

import argparse
import math
import sys

from ..cli import entry_point
from ..errors import TextcycleError
from .crawl import MAX_PAGE_BYTES, PAGE_DEADLINE, crawl_board, parse_page_range
from .ingest import IngestOptions, ingest, printable_path


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line, like every other error of the command (exit status 2)."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="python -m textcycle.ptt",
        description="Build a style corpus from PTT comments: 噓 (boo) -> neg.txt, 推 (push) -> pos.txt.",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    c = sub.add_parser("crawl", help="download board index pages and articles (needs a network)")
    c.add_argument("--board", required=True, help="board name as in the URL, e.g. Food, movie, Gossiping")
    g = c.add_mutually_exclusive_group(required=True)
    g.add_argument("--pages", help="index page range FIRST-LAST (index<N>.html), e.g. 7000-7010")
    g.add_argument("--last", type=int, metavar="N", help="the N newest index pages")
    c.add_argument("--out", default="data/ptt-raw", help="folder for the raw pages (default: data/ptt-raw)")
    c.add_argument("--delay", type=float, default=1.0, help="seconds between requests (default: 1.0)")
    c.add_argument("--retries", type=int, default=4, help="retries per page (default: 4)")
    c.add_argument(
        "--backoff", type=float, default=2.0, help="first retry wait in seconds, doubled on each retry (default: 2)"
    )
    c.add_argument("--timeout", type=float, default=20.0, help="seconds per socket read (default: 20)")
    c.add_argument(
        "--page-deadline",
        type=float,
        default=PAGE_DEADLINE,
        help=f"seconds for a whole page, however slowly it comes (default: {PAGE_DEADLINE:g})",
    )
    c.add_argument(
        "--max-page-mb",
        type=float,
        default=MAX_PAGE_BYTES / 2**20,
        help=f"largest page fetched, in MiB (default: {MAX_PAGE_BYTES / 2**20:g})",
    )
    c.add_argument("--refresh-index", action="store_true", help="fetch index pages again even if on disk")

    i = sub.add_parser("ingest", help="turn saved pages / JSON dumps into neg.txt and pos.txt")
    i.add_argument("inputs", nargs="+", help="HTML/JSON files or folders (searched recursively)")
    i.add_argument("--out", default="data/ptt", help="output folder, not inside an input folder (default: data/ptt)")
    i.add_argument("--min-chars", type=int, default=4, help="shortest comment kept (default: 4)")
    i.add_argument("--max-chars", type=int, default=80, help="longest comment kept (default: 80)")
    i.add_argument("--neutral", action="store_true", help="also write neu.txt with the → comments")
    i.add_argument("--no-join", action="store_true", help="keep continuation lines as separate comments")
    i.add_argument("--keep-ids", action="store_true", help="do not remove user ids from the comments")
    i.add_argument("--convert", metavar="OPENCC", help="OpenCC conversion, e.g. t2s (Simplified) or tw2s")
    i.add_argument(
        "--holdout",
        type=int,
        default=500,
        help="comments per style held out (by article) for dev and for test (default: 500)",
    )
    i.add_argument(
        "--holdout-max-fraction",
        type=float,
        default=0.05,
        help="at most this share of a style per held-out split (default: 0.05)",
    )
    i.add_argument("--seed", type=int, default=0)
    return ap


def _crawl(args) -> int:
    first = last = None
    if args.pages:
        first, last = parse_page_range(args.pages)
    for name, value in (
        ("--timeout", args.timeout),
        ("--page-deadline", args.page_deadline),
        ("--max-page-mb", args.max_page_mb),
    ):
        if not (math.isfinite(value) and value > 0):
            raise TextcycleError(f"{name} must be a number > 0, not {value}")
    from .crawl import urllib_fetch

    max_bytes = max(1, int(args.max_page_mb * 2**20))
    report = crawl_board(
        args.out,
        args.board,
        first=first,
        last=last,
        newest=args.last,
        fetch=lambda url: urllib_fetch(url, timeout=args.timeout, deadline=args.page_deadline, max_bytes=max_bytes),
        delay=args.delay,
        retries=args.retries,
        backoff=args.backoff,
        refresh_index=args.refresh_index,
    )
    print(report.summary())
    raw = printable_path(f"{args.out}/{args.board}")
    print(f"pages are in {raw}/; next: python -m textcycle.ptt ingest {raw} --out data/ptt")
    return 1 if report.failed else 0


def _ingest(args) -> int:
    opts = IngestOptions(
        min_chars=args.min_chars,
        max_chars=args.max_chars,
        neutral=args.neutral,
        join=not args.no_join,
        strip_user_ids=not args.keep_ids,
        convert=args.convert,
        holdout=args.holdout,
        holdout_max_fraction=args.holdout_max_fraction,
        seed=args.seed,
    )
    stats = ingest(args.inputs, args.out, opts)
    print(stats.summary())
    print(f"corpus in {printable_path(args.out)}/")
    return 0


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _crawl(args) if args.command == "crawl" else _ingest(args)


# entry_point reads the note from the function it wraps: set it before wrapping
_main.interrupt_note = "; pages saved so far are kept (run again to resume)"
main = entry_point(_main)


if __name__ == "__main__":
    sys.exit(main())
