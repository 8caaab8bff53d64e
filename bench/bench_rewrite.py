"""Speed of textcycle on this machine, side by side in one run (CPU by default).

    python bench/bench_rewrite.py                 # bundled Yelp model, Li test sentences if present
    python bench/bench_rewrite.py --model runs/yelp/best --threads 2 --json

Rows: rewrite throughput (sentences/s, batch 64) for textcycle's own KV-cache decoding (greedy,
sampling) and beam 4, beside plain `transformers` `generate()` of the same generator (the
baseline); cold start of `python -m textcycle.rewrite` (seconds to the first output line);
training throughput (source sentences/s) in the warm-start and cycle-RL phases; and a matrix-
multiply probe, since the CPU is shared and its speed varies. Compare rows of one run only.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from textcycle.networks import decode  # noqa: E402
from textcycle.rewrite import Rewriter  # noqa: E402
from textcycle.textnorm import normalize  # noqa: E402


def sentences(data: Path, n: int) -> list[str]:
    files = [data / "li2018" / "sentiment.test.0", data / "li2018" / "sentiment.test.1"]
    if all(f.is_file() for f in files):
        lines = [l.strip() for f in files for l in f.read_text(encoding="utf-8").splitlines() if l.strip()]
    else:  # no shared data: generic review sentences
        lines = [f"the {w} was {a} and the staff was {b} ." for w in ("food", "pizza", "room", "service")
                 for a in ("cold", "great", "bland", "amazing") for b in ("rude", "friendly", "slow", "quick")]
    return (lines * (n // len(lines) + 1))[:n]


def matmul_gflops(seconds: float = 1.0) -> float:
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return 2 * 512 ** 3 * n / (time.perf_counter() - t0) / 1e9


def timed(fn, n_sent: int, repeat: int = 1) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return n_sent * repeat / (time.perf_counter() - t0)


def bench_decoding(rw: Rewriter, sents: list[str], bs: int) -> list[tuple[str, float]]:
    norm = [normalize(s, rw.language) for s in sents]
    batches = [rw._ids(norm[i:i + bs]) for i in range(0, len(norm), bs)]
    g = rw.model.generators[1]
    max_new = rw.model.max_length + 8

    def ours(sample=False):
        for ids, mask in batches:
            decode(g, ids, mask, max_new, sample=sample)

    def hf(beams=1, sample=False):
        for ids, mask in batches:
            g.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new, num_beams=beams,
                       do_sample=sample, early_stopping=beams > 1)

    n = len(sents)
    with torch.no_grad():
        return [
            ("generate() greedy (baseline)", timed(hf, n)),
            ("textcycle decode, greedy", timed(ours, n)),
            ("generate() sampling (baseline)", timed(lambda: hf(sample=True), n)),
            ("textcycle decode, sampling", timed(lambda: ours(True), n)),
            ("generate() beam 4 (used by --beam 4)", timed(lambda: hf(4), n)),
            ("Rewriter.rewrite() greedy, end to end", timed(lambda: rw.rewrite(sents, batch_size=bs), n)),
        ]


def cold_start(model: str) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "textcycle.rewrite", "--model", model,
                          "the food was cold and the waiter was rude ."], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    p.stdout.readline()
    dt = time.perf_counter() - t0
    p.wait()
    return dt


def bench_training(data: Path, steps: int) -> list[tuple[str, float]]:
    """Source sentences/s of one training step of configs/yelp.yaml, per phase."""
    from accelerate import Accelerator

    from textcycle.config import TextCycleConfig, load_config
    from textcycle.train import Trainer

    out = Path("/tmp/textcycle-bench-train")
    cfg = load_config(REPO / "configs" / "yelp.yaml", TextCycleConfig,
                      [f"data.path={data}", f"train.output_dir={out}", "data.max_train_per_style=5000"])
    tr = Trainer(cfg, Accelerator(cpu=True))
    tc = cfg.train
    rows = []
    for name, step_at, fn, per_step in (
        ("training, warm start (DAE)", 0, tr.warm_step, 2 * tc.batch_size),
        ("training, warm start (DAE + back-translation)", tc.bt_start, tr.warm_step, 4 * tc.batch_size),
        ("training, cycle-RL (K samples + BT + DAE)", tc.warm_steps, tr.rl_step, 2 * (tc.batch_size // tc.num_samples)),
    ):
        tr.step = step_at
        rows.append((f"{name}, source sentences/s", timed(fn, per_step, steps)))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="yelp")
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "yelp"))
    p.add_argument("--sentences", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train-steps", type=int, default=3, help="timed steps per training phase (0: skip)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rw = Rewriter.from_pretrained(args.model)
    sents = sentences(Path(args.data), args.sentences)
    rows = [("matmul probe, GFLOP/s (fp32, 512x512)", matmul_gflops())]
    rows += bench_decoding(rw, sents, args.batch_size)
    rows.append(("cold start of `python -m textcycle.rewrite`, seconds", cold_start(args.model)))
    if args.train_steps > 0 and (Path(args.data) / "li2018").is_dir():
        rows += bench_training(Path(args.data), args.train_steps)
    rows.append(("matmul probe again, GFLOP/s", matmul_gflops()))
    if args.json:
        print(json.dumps(dict(rows), indent=1))
        return 0
    base = rows[1][1]
    print(f"threads={args.threads} batch={args.batch_size} sentences={len(sents)} model={args.model}\n")
    print("| what | value | vs generate() greedy |\n|---|---:|---:|")
    for name, v in rows:
        ratio = f"{v / base:.2f}x" if "sentences/s" in name or name.startswith(("generate", "textcycle", "Rewriter")) else ""
        print(f"| {name} | {v:.1f} | {ratio if 'training' not in name else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
