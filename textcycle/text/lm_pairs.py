"""Pseudo-pairs for the LM generators' warm start, from a teacher model (distillation).

    python -m textcycle.text.lm_pairs --config configs/yelp-lm.yaml --teacher yelp \\
        --per-style 20000 --rerank 4 --out runs/yelp-lm-pairs.tsv

The teacher (a small textcycle model, on its fast engine) rewrites training sentences of each
style into the other; of its greedy rewrite and `rerank - 1` samples, the best by its training
reward (`Rewriter.candidates`) is kept when its own discriminator puts it in the target style
(p >= --min-style), it is not a copy, it adds no number, and it has no broken contraction
(`lm_data.well_formed`). Pairs are written in natural form
with the same drawn numbers on both sides (`lm_data.fill_pair`), one per line:
`source<TAB>rewrite<TAB>target style`.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..cli import entry_point
from ..config import add_config_arguments, load_config
from ..errors import TextcycleError
from ..files import atomic_file, read_lines
from .lm_config import LMRecipe
from .lm_data import fill_pair, well_formed


def teacher_pairs(
    rw, sentences: list[str], to: int, rerank: int, min_style: float, batch: int = 256
) -> list[tuple[str, str, float]]:
    """(source, best rewrite, its reward) in corpus form for the sentences that pass."""
    out = []
    for b in tqdm(range(0, len(sentences), batch), desc=f"teacher -> {to}", file=sys.stderr):
        chunk = sentences[b : b + batch]
        [(texts, scores)] = rw.candidates([(chunk, to)], n=rerank)
        if scores is None:  # rerank 1: the greedy rewrite, unscored
            scores = np.zeros((len(chunk), 1))
        best = [str(row[int(i)]) for row, i in zip(texts, scores.argmax(1))]
        probs = rw.style_probs(best)[:, to]
        for src, y, p, sc in zip(chunk, best, probs, scores.max(1)):
            if p >= min_style and y.strip() and y != src:
                out.append((src, y, float(sc)))
    return out


def write_pairs(path: Path, pairs: list[tuple[str, str, int]]) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text("".join(f"{x}\t{y}\t{t}\n" for x, y, t in pairs), encoding="utf-8")


def read_pairs(path: str | Path) -> list[tuple[str, str, int]]:
    """The pairs of a file `write_pairs` wrote; a malformed line is one error naming it."""
    pairs = []
    for i, line in enumerate(read_lines(path), 1):
        parts = line.split("\t")
        if len(parts) != 3 or parts[2] not in ("0", "1") or not parts[0] or not parts[1]:
            raise TextcycleError(f"{path}: line {i} is not 'source<TAB>rewrite<TAB>0|1'")
        pairs.append((parts[0], parts[1], int(parts[2])))
    if not pairs:
        raise TextcycleError(f"{path}: no pairs")
    return pairs


@entry_point
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.text.lm_pairs", description=__doc__.split("\n\n")[0])
    add_config_arguments(p)
    p.add_argument("--teacher", default="yelp", help="a small textcycle model (bundled name or folder)")
    p.add_argument("--per-style", type=int, default=20000, help="training sentences rewritten per style")
    p.add_argument("--rerank", type=int, default=4)
    p.add_argument("--min-style", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        raise TextcycleError(f"{out} exists: pairs are never overwritten (remove it, or pick another --out)")
    from ..rewrite import Rewriter
    from .data import load_corpus

    cfg = load_config(args.config, LMRecipe, args.overrides)
    corpus = load_corpus(cfg.data)
    rng = random.Random(cfg.train.seed)
    rw = Rewriter.from_pretrained(args.teacher, threads=args.threads)
    pairs, kept = [], []
    for s in (0, 1):
        sents = list(corpus.train[s])
        rng.shuffle(sents)
        got = teacher_pairs(rw, sents[: args.per_style], 1 - s, args.rerank, args.min_style)
        for x, y, _ in got:
            filled = fill_pair(x, y, rng)
            if filled and well_formed(filled[1]):
                pairs.append((*filled, 1 - s))
        kept.append(len(got))
    write_pairs(out, pairs)
    print(
        f"pairs: {kept[0]:,} negative -> positive, {kept[1]:,} positive -> negative of {args.per_style:,} "
        f"per style; {len(pairs):,} written to {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
