"""Train "our LM" (a small GPT-2-style model) on the Yelp training split for fluency scores.

    python -m textcycle.evaluate.train_lm --data ../shared/data/yelp \
        --out textcycle/pretrained/yelp-eval/lm
    python -m textcycle.evaluate.train_lm --config configs/zh-reviews.yaml \
        --out textcycle/pretrained/zh-eval/lm      # any corpus config (train split only)

Training data: `load_corpus(DataConfig(path=--data)).train` only, both styles. Li et al. dev
is used to report perplexity during training; the test sources and references only afterwards,
with the fp16 weights as saved. A 9-minute budget on one CPU thread (see --max-minutes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..cli import entry_point, thread_count
from ..files import atomic_dir
from ..text.config import DataConfig
from ..text.data import load_corpus
from .lm import LanguageModel, LMConfig, train_lm
from .paths import DEFAULT_DATA, DEFAULT_LM
from .testset import load_testset


@entry_point
def main(argv: list[str] | None = None) -> int:
    d = LMConfig()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="Yelp data folder (default %(default)s)")
    ap.add_argument(
        "--config", default=None, help="a textcycle config: train on its corpus (data section) instead of --data"
    )
    ap.add_argument("--out", default=str(DEFAULT_LM), help="output folder (default: the bundled one)")
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--max-minutes", type=float, default=d.max_minutes)
    ap.add_argument("--batch-size", type=int, default=d.batch_size)
    ap.add_argument("--vocab-size", type=int, default=d.vocab_size)
    ap.add_argument("--n-embd", type=int, default=d.n_embd)
    ap.add_argument("--n-layer", type=int, default=d.n_layer)
    ap.add_argument("--n-inner", type=int, default=d.n_inner)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--eval-every", type=int, default=d.eval_every)
    ap.add_argument(
        "--bf16",
        choices=["auto", "yes", "no"],
        default="auto",
        help="bf16 autocast (auto: only where the CPU has fast bf16 matmuls)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=thread_count, default=1, help="torch threads (default 1)")
    ap.add_argument("--max-train-per-style", type=int, default=None, help="cap for quick runs")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    if args.config:
        from ..config import load_config
        from ..text.config import TextCycleConfig

        full = load_config(args.config, TextCycleConfig)
        data = full.data
        data.max_train_per_style = args.max_train_per_style
        ts = None
        coverage = full.tokenizer.character_coverage
    else:
        data = DataConfig(path=args.data, max_train_per_style=args.max_train_per_style)
        ts = load_testset(args.data)
        coverage = 1.0
    corpus = load_corpus(data)
    cfg = LMConfig(
        language=data.language,
        character_coverage=coverage,
        steps=args.steps,
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        vocab_size=args.vocab_size,
        n_embd=args.n_embd,
        n_layer=args.n_layer,
        n_inner=args.n_inner,
        lr=args.lr,
        eval_every=args.eval_every,
        bf16=args.bf16,
        seed=args.seed,
    )
    out = Path(args.out)
    with atomic_dir(out) as tmp:
        lm, info = train_lm(
            corpus.train[0] + corpus.train[1],
            tmp,
            cfg,
            dev=corpus.dev[0] + corpus.dev[1],
            log=lambda m: print(m, flush=True),
        )
        lm.save(tmp)
        lm = LanguageModel.load(tmp)  # report what was saved (fp16 weights)
        if ts is not None:
            metrics = {
                "perplexity_li_dev": round(lm.perplexity(corpus.dev[0] + corpus.dev[1], normalized=True), 2),
                "perplexity_li_test_sources": round(lm.perplexity(ts.sources[0] + ts.sources[1]), 2),
                "perplexity_li_reference": round(lm.perplexity(ts.li_refs[0] + ts.li_refs[1]), 2),
            }
        else:
            metrics = {
                "perplexity_dev": round(lm.perplexity(corpus.dev[0] + corpus.dev[1], normalized=True), 2),
                "perplexity_test": round(lm.perplexity(corpus.test[0] + corpus.test[1], normalized=True), 2),
            }
        metrics["training"] = {"data": str(args.config or args.data), "torch_threads": torch.get_num_threads(), **info}
        lm.save(tmp, metrics)
    print(json.dumps({k: v for k, v in metrics.items() if k != "training"}, indent=1))
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"saved to {out} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
