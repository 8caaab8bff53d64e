"""Speed of an LM model (an LM generator folder or run) on this machine, CPU, one run.

    python bench/bench_lm.py --model runs/yelp-lm
    python bench/bench_lm.py --model runs/yelp-lm --threads 2 --batches 16 64 256 --json

Prints, in one run (compare rows of one run only; the CPU's speed varies):
- the first build of the merged CTranslate2 copy into an empty cache, in a fresh process: with
  the plain base already cached (what a user pays once per model) and from nothing (the base
  dequantised from the wheel too);
- batched greedy rewriting, sentences/s: the engine alone (`LMEngine.generate`) and the whole
  Rewriter (pieces, detection, the keep rules, assembling), on the Li test sentences in natural
  form (detokenised, first letter capitalised);
- the cold start of `python -m textcycle.rewrite` for one sentence with the cache built (median of
  5), and the peak RSS of rewriting `--rss-sentences` sentences from stdin;
- the small model's Rewriter on the same sentences in the same run, and the ratio of the two at
  the largest batch: the LM engine's `cost_factor` in the server's admission;
- the matmul probe of bench_rewrite.py before and after.
Targets (issue 26): >= 100 sentences/s batched greedy at 2 threads, cold start <= 2.0 s, first
build <= 90 s, peak RSS <= 1.2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_rewrite import ENV, cli_run, matmul_gflops, rate, sentences  # noqa: E402

from textcycle.cache import cache_root  # noqa: E402
from textcycle.cli import entry_point, thread_count  # noqa: E402
from textcycle.rewriter import Rewriter  # noqa: E402
from textcycle.text.textnorm import denormalize  # noqa: E402


def natural(sentence: str) -> str:
    text = denormalize(sentence, "en")
    return text[:1].upper() + text[1:]


def first_build(model: str, cache: Path) -> float:
    """Seconds for a fresh process to open the model with `cache` as its cache (builds what is missing)."""
    code = f"from textcycle.rewriter import Rewriter; Rewriter.from_pretrained({model!r}, threads=2)"
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**ENV, "TEXTCYCLE_CACHE": str(cache)}, check=True, timeout=900
    )
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="an LM model folder or run folder")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "yelp"))
    ap.add_argument("--sentences", type=int, default=1000, help="sentences per throughput row")
    ap.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--threads", type=thread_count, default=2)
    ap.add_argument("--budget", type=float, default=30.0, help="seconds per row at most")
    ap.add_argument("--rss-sentences", type=int, default=2000)
    ap.add_argument("--small", default="yelp-small", help="the small model the cost factor is measured against")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result = {"threads": args.threads, "model": args.model, "matmul_gflops_before": round(matmul_gflops(), 1)}

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        base = next(cache_root().glob("base-*"), None)
        if base is not None:  # the plain base as a user has it after any LM model's first use
            shutil.copytree(base, cache / base.name)
            result["first build, base cached, s"] = round(first_build(args.model, cache), 1)
            shutil.rmtree(cache)
        result["first build from nothing, s"] = round(first_build(args.model, cache), 1)

    rw = Rewriter.from_pretrained(args.model, threads=args.threads)
    if rw.engine.name != "ctranslate2-lm":
        raise SystemExit(f"{args.model} is not an LM model (engine {rw.engine.name})")
    sents = [natural(s) for s in sentences(Path(args.data), args.sentences)]
    small = Rewriter.from_pretrained(args.small, threads=args.threads)
    rows = {
        "LMEngine.generate (greedy)": lambda b: [h[0] for h in rw.engine.generate(b, 1, max_batch_size=len(b))],
        "Rewriter.rewrite (greedy, to positive)": lambda b: rw.rewrite(b, to=1, batch_size=len(b)),
        f"small model {args.small}: Rewriter.rewrite": lambda b: small.rewrite(b, to=1, batch_size=len(b)),
    }
    result["rows"] = {}
    for name, fn in rows.items():
        result["rows"][name] = {}
        for bs in args.batches:
            r, _ = rate(fn, sents, bs, args.budget)
            result["rows"][name][f"batch {bs}"] = round(r, 1)
            print(f"{name}, batch {bs}: {r:.1f} sentences/s", file=sys.stderr, flush=True)
    last = f"batch {args.batches[-1]}"
    lm_rate, small_rate = (result["rows"][k][last] for k in list(rows)[1:])
    result[f"cost factor (small / LM Rewriter, {last})"] = round(small_rate / max(lm_rate, 1e-9), 1)
    starts = [cli_run(["--model", args.model, "The food was cold."])[0] for _ in range(5)]
    result["cold start, s (median of 5)"] = round(statistics.median(starts), 2)
    stdin = "\n".join(natural(s) for s in sentences(Path(args.data), args.rss_sentences)).encode() + b"\n"
    result[f"peak RSS, {args.rss_sentences} sentences, MiB"] = cli_run(["--model", args.model, "--quiet", "-"], stdin)[
        1
    ]
    result["matmul_gflops_after"] = round(matmul_gflops(), 1)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(
        f"threads={args.threads}, model {args.model}, matmul probe "
        f"{result['matmul_gflops_before']} -> {result['matmul_gflops_after']} GFLOP/s\n"
    )
    cols = [f"batch {bs}" for bs in args.batches]
    print("| greedy, sentences/s | " + " | ".join(cols) + " |\n|---|" + "---:|" * len(cols))
    for name, row in result["rows"].items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |")
    print("\n| measure | value |\n|---|---:|")
    for k, v in result.items():
        if k.startswith(("first build", "cold start", "peak RSS", "cost factor")):
            print(f"| {k} | {v} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(entry_point(main)())
