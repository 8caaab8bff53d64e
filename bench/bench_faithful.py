"""Faithful text on a probe of cased sentences with numbers and names (not from any corpus).

    python bench/bench_faithful.py                          # the bundled default model
    python bench/bench_faithful.py --model yelp --rerank 4 --probe tests/data/faithful-en.tsv

Each probe sentence is rewritten into the style opposite to the one the model detects. Prints
every rewrite with its faults, then: sentences with every number kept, with no invented number,
and with every name kept, as written (`textcycle.evaluate.faithful`); how many rewrites changed
anything, and how many the model's discriminator reads in the target style.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from textcycle.cli import entry_point  # noqa: E402
from textcycle.evaluate.faithful import check, faults, read_probe, summary  # noqa: E402
from textcycle.rewrite import Rewriter  # noqa: E402
from textcycle.text.textnorm import normalize  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--probe", default=str(REPO / "tests" / "data" / "faithful-en.tsv"))
    ap.add_argument("--rerank", type=int, default=1)
    args = ap.parse_args(argv)
    rows = read_probe(args.probe)
    rw = Rewriter.from_pretrained(args.model)
    details = rw.rewrite([s for s, _ in rows], rerank=args.rerank, details=True)
    outs = [d["rewrite"] for d in details]
    results = []
    for (src, names), out in zip(rows, outs):
        r = check(src, out, names)
        results.append(r)
        found = faults(r)
        print(f"{src}\n  -> {out}" + (f"   [{'; '.join(found)}]" if found else ""))
    s = summary(results)
    n = s["sentences"]
    print(f"\nmodel {args.model}, rerank {args.rerank}, {n} probe sentences")
    # a rewrite that keeps everything by changing nothing is no rewrite: how many changed, and how
    # many the model's own discriminator reads in the target style (p > 0.5)
    changed = sum(normalize(out) != normalize(src) for (src, _), out in zip(rows, outs))  # not spacing alone
    styled = sum((d["style_probability"] or 0) > 0.5 for d in details)
    print("| every number kept | no invented number | every name kept | changed | in the target style |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {s['numbers_kept']}/{n} | {s['no_invented_number']}/{n} | {s['names_kept']}/{n} "
        f"| {changed}/{n} | {styled}/{n} |"
    )


if __name__ == "__main__":
    sys.exit(entry_point(main)())
