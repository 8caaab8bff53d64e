"""Where one server batch's time goes: the whole rewrite against its parts (CPU, CTranslate2).

    python bench/bench_rewrite_parts.py                 # bundled Yelp model, batches of 160
    python bench/bench_rewrite_parts.py --batch 64 --seconds 5

The serve load test compares the server's sentences/s with the engine alone (CTranslate2
generation in batches of 512, one direction, as `bench/bench_rewrite.py` times it). A server
batch does more than that generation: `serve/work.py rewrite_batch` normalises the texts,
detects their style with the discriminator, generates both directions side by side in one
batch of the server's size, decodes, and scores the rewrites with the discriminator. Rows, each
timed on the same batches of Li et al. test sentences (auto direction), in rounds that alternate
so a shared CPU's drift hits them alike; numpy's BLAS on one thread, as in the server:

- engine alone: generation of 512 one way (the load test's reference);
- generation at the server's batch: `generate_many` of the batch's own two directions;
- the discriminator: its two passes (the sources, then the rewrites);
- the whole rewrite (`rewrite_batch`), and what is left of it after the two parts above.

The last lines give the ceilings: the whole rewrite's sentences/s as a share of the engine
alone, and the share it could reach if the discriminator cost nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_rewrite import sentences  # noqa: E402

from textcycle.cli import entry_point, thread_count  # noqa: E402


def seconds_per_call(fn, args: list, budget_s: float) -> float:
    """Mean seconds of fn(a) over `args`, cycled for `budget_s` seconds (after one warm-up call)."""
    fn(args[0])
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < budget_s:
        fn(args[n % len(args)])
        n += 1
    return (time.perf_counter() - t0) / n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="yelp-small")
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "yelp"))
    p.add_argument("--batch", type=int, default=160, help="texts per server batch (the load test's mean: about 154)")
    p.add_argument("--threads", type=thread_count, default=2, help="CTranslate2 threads (the server's default)")
    p.add_argument("--seconds", type=float, default=8.0, help="seconds per row per round")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    if args.batch < 1 or args.threads < 1 or args.seconds <= 0 or args.rounds < 1:
        p.error("--batch, --threads and --rounds must be at least 1, --seconds above 0")

    from textcycle.errors import TextcycleError
    from textcycle.rewrite import Rewriter
    from textcycle.serve.app import one_blas_thread
    from textcycle.serve.work import rewrite_batch
    from textcycle.text.reward import detected_style_probs
    from textcycle.text.textnorm import normalize

    one_blas_thread()
    try:
        rw = Rewriter.from_pretrained(args.model, engine="ct2", threads=args.threads)
    except TextcycleError as e:
        p.error(str(e))
    if rw.language != "en":
        p.error(
            f"{args.model} is a {rw.language} model; this bench's sentences are English (the Li et al. Yelp test set)"
        )
    engine = rw.engine
    if engine.name != "ctranslate2":
        p.error(f"{args.model}: no CTranslate2 copy, so no engine to compare with")
    texts = sentences(Path(args.data), 4096)
    rng = random.Random(0)
    batches = [[rng.choice(texts) for _ in range(args.batch)] for _ in range(8)]
    # each batch's parts as the rewrite makes them: source ids, detected direction, rewrites' ids
    parts = []
    for b in batches:
        src = engine.encode([normalize(t, rw.language) for t in b])
        to = (detected_style_probs(engine.style_logits_ids(src)).argmax(1) == 0).astype(int)  # into the other style
        requests = [([s for s, t in zip(src, to) if t == d], d) for d in (0, 1)]
        out = [h[0] for r in engine.generate_many_ids(requests) for h in r]
        parts.append((src, requests, out))
    one_way = engine.encode([normalize(t, rw.language) for t in texts])
    big = [one_way[i : i + 512] for i in range(0, len(one_way) - 511, 512)]

    rows = {
        "engine alone (512, one way)": [],
        f"generation at the server's batch ({args.batch}, both ways)": [],
        "discriminator (2 passes)": [],
        "whole rewrite (rewrite_batch)": [],
    }
    for _ in range(args.rounds):
        timings = [
            (seconds_per_call(lambda ids: engine.generate_ids(ids, 1), big, args.seconds), 512),
            (seconds_per_call(lambda pt: engine.generate_many_ids(pt[1]), parts, args.seconds), args.batch),
            (
                seconds_per_call(
                    lambda pt: (engine.style_logits_ids(pt[0]), engine.style_logits_ids(pt[2])), parts, args.seconds
                ),
                args.batch,
            ),
            (seconds_per_call(lambda b: rewrite_batch(rw, b, None), batches, args.seconds), args.batch),
        ]
        for key, (s, n) in zip(rows, timings):
            rows[key].append(s / n)  # seconds per sentence
    per = {k: sum(v) / len(v) for k, v in rows.items()}
    gen_k, disc_k, whole_k = list(rows)[1:]
    rest = per[whole_k] - per[gen_k] - per[disc_k]
    ref = per["engine alone (512, one way)"]
    print(
        f"| part ({args.batch}-text server batches, {args.threads} CTranslate2 threads) | ms per {args.batch} "
        "sentences | sentences/s | share of the whole rewrite |"
    )
    print("|---|---:|---:|---:|")
    for k, v in [*per.items(), ("the rest (normalising, SentencePiece, decoding, assembling)", rest)]:
        share = f"{100 * v / per[whole_k]:.0f}%" if k != list(rows)[0] else ""
        print(f"| {k} | {1000 * v * args.batch:.1f} | {1 / v:.0f} | {share} |")
    print(
        f"\nwhole rewrite: {100 * ref / per[whole_k]:.0f}% of the engine alone; generation at the server's batch: "
        f"{100 * ref / per[gen_k]:.0f}%; the whole rewrite with a free discriminator: at most "
        f"{100 * ref / (per[whole_k] - per[disc_k]):.0f}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(entry_point(main)())
