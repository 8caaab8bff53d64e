"""Rewriting speed on this machine, every engine side by side in one run (CPU).

    python bench/bench_rewrite.py                       # bundled Yelp model, Li test sentences
    python bench/bench_rewrite.py --threads 2 --batches 1 64 512 --json

Rows, greedy decoding of the same G_xy into positive, in sentences/s at each batch size:
- torch `generate()` of `transformers` (the baseline), and textcycle's torch decode loop;
- CTranslate2, float32 compute (what the rewrite command uses) and int8 compute, on the copy the
  model folder ships (int8 layers + float16 embedding);
plus: greedy outputs identical to the torch decode loop (CTranslate2 float32 and int8); the cold
start of `python -m textcycle.rewrite` for one sentence (median of 5, both engines); the peak RSS
of rewriting 5,000 sentences from stdin (both engines); a matmul probe before and after, since
the CPU is shared and its speed varies. Compare rows of one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from textcycle.cli import entry_point, thread_count  # noqa: E402
from textcycle.engines.ct2 import CT2Engine  # noqa: E402
from textcycle.model_folder import ModelFolder  # noqa: E402
from textcycle.text.model import TextCycleModel  # noqa: E402
from textcycle.text.networks import decode, pad_batch, trim  # noqa: E402
from textcycle.text.textnorm import normalize  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def sentences(data: Path, n: int) -> list[str]:
    files = [data / "li2018" / "sentiment.test.0", data / "li2018" / "sentiment.test.1"]
    if all(f.is_file() for f in files):
        lines = [line.strip() for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:  # no shared data: generic review sentences
        lines = [
            f"the {w} was {a} and the staff was {b} ."
            for w in ("food", "pizza", "room", "service")
            for a in ("cold", "great", "bland", "amazing")
            for b in ("rude", "friendly", "slow", "quick")
        ]
    return (lines * (n // len(lines) + 1))[:n]


def matmul_gflops(seconds: float = 1.0) -> float:
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return 2 * 512**3 * n / (time.perf_counter() - t0) / 1e9


def rate(fn, ids: list[list[int]], bs: int, budget_s: float) -> tuple[float, list]:
    """Sentences/s of fn over batches of `bs` (stops after `budget_s` seconds, after a warm-up)."""
    fn(ids[:bs])
    outs, n, t0 = [], 0, time.perf_counter()
    for i in range(0, len(ids), bs):
        outs += fn(ids[i : i + bs])
        n += len(ids[i : i + bs])
        if time.perf_counter() - t0 > budget_s:
            break
    return n / (time.perf_counter() - t0), outs


def cli_run(args: list[str], stdin: bytes | None = None) -> tuple[float, int]:
    """(seconds to the first output line, peak RSS in MiB) of one rewrite command."""
    import tempfile

    src = tempfile.TemporaryFile()  # a file, not a pipe: the command writes while we would still be feeding it
    src.write(stdin or b"")
    src.seek(0)
    t0 = time.perf_counter()
    # VmHWM of the child's own address space (ru_maxrss would carry this process's peak over exec)
    code = (
        "import sys, runpy; sys.argv = ['rewrite'] + sys.argv[1:]\ntry:\n"
        " runpy.run_module('textcycle.rewrite', run_name='__main__')\nfinally:\n"
        " hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        " print(hwm, file=sys.stderr)"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=ENV,
        stdin=src,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p.stdout.readline()
    first = time.perf_counter() - t0
    p.stdout.read()
    err = p.stderr.read().decode().strip().splitlines()
    p.wait()
    return first, int(err[-1]) // 1024 if err and err[-1].isdigit() else -1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="yelp-small")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "yelp"))
    ap.add_argument("--sentences", type=int, default=1000, help="sentences per throughput row")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 64, 512])
    ap.add_argument("--threads", type=thread_count, default=2)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per row at most (batch 1 is slow)")
    ap.add_argument("--rss-sentences", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model_folder = ModelFolder.open(args.model)
    folder = model_folder.path
    sents = sentences(Path(args.data), args.sentences)
    model = TextCycleModel.from_pretrained(folder).eval()
    g = model.generators[1]
    max_new = model.max_length + 8
    fast = CT2Engine.from_folder(model_folder, threads=args.threads)
    fast_int8 = CT2Engine.from_folder(model_folder, threads=args.threads, compute_type="int8")
    ids = fast.encode([normalize(s, model.language) for s in sents])

    @torch.no_grad()
    def hf_generate(batch):
        x, m = pad_batch(batch)
        out = g.generate(input_ids=x, attention_mask=m, max_new_tokens=max_new, num_beams=1, do_sample=False)
        return trim(out[:, 1:])

    @torch.no_grad()
    def torch_loop(batch):
        x, m = pad_batch(batch)
        return trim(decode(g, x, m, max_new))

    engines = [
        ("torch generate() (baseline)", hf_generate),
        ("torch decode loop", torch_loop),
        ("CTranslate2 float32 compute (shipped)", lambda b: [h[0] for h in fast.generate_ids(b, 1)]),
        ("CTranslate2 int8 compute", lambda b: [h[0] for h in fast_int8.generate_ids(b, 1)]),
    ]
    result = {
        "threads": args.threads,
        "sentences": len(sents),
        "model": str(folder),
        "matmul_gflops_before": round(matmul_gflops(), 1),
        "rows": {},
    }
    outputs = {}
    for name, fn in engines:
        row = {}
        for bs in args.batches:
            r, outs = rate(fn, ids, bs, args.budget)
            row[f"batch {bs}"] = round(r, 1)
            print(f"{name}, batch {bs}: {r:.1f} sentences/s", file=sys.stderr, flush=True)
            if bs == max(args.batches):
                outputs[name] = outs
        result["rows"][name] = row
    ref = outputs["torch decode loop"]
    strip = lambda o: [x for x in o if x != 3]  # noqa: E731 (</s> at the end or not)
    for name in ("CTranslate2 float32 compute (shipped)", "CTranslate2 int8 compute"):
        same = sum(strip(a) == strip(b) for a, b in zip(outputs[name], ref))
        result["rows"][name]["identical to the torch loop"] = f"{same}/{min(len(ref), len(outputs[name]))}"
    for eng in ("ct2", "torch"):
        starts = [cli_run(["--engine", eng, "--model", str(folder), "the food was cold ."])[0] for _ in range(5)]
        result[f"cold start, {eng} engine, s (median of 5)"] = round(statistics.median(starts), 2)
        stdin = "\n".join(sentences(Path(args.data), args.rss_sentences)).encode() + b"\n"
        result[f"peak RSS, {eng} engine, {args.rss_sentences} sentences, MiB"] = cli_run(
            ["--engine", eng, "--model", str(folder), "--quiet", "-"], stdin
        )[1]
    result["matmul_gflops_after"] = round(matmul_gflops(), 1)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    loop = result["rows"]["torch decode loop"]
    print(
        f"threads={args.threads}, {len(sents)} Li test sentences, model {folder.name}, "
        f"matmul probe {result['matmul_gflops_before']} -> {result['matmul_gflops_after']} GFLOP/s\n"
    )
    cols = [f"batch {bs}" for bs in args.batches]
    print("| greedy, sentences/s | " + " | ".join(cols) + f" | x torch loop ({cols[-1]}) | identical to torch loop |")
    print("|---|" + "---:|" * (len(cols) + 2))
    for name, row in result["rows"].items():
        ratio = row[cols[-1]] / loop[cols[-1]]
        print(
            f"| {name} | "
            + " | ".join(f"{row[c]:.1f}" for c in cols)
            + f" | {ratio:.2f}x | {row.get('identical to the torch loop', '')} |"
        )
    print()
    print("| command | value |\n|---|---:|")
    for k, v in result.items():
        if k.startswith(("cold start", "peak RSS")):
            print(f"| {k} | {v} |")
    return 0


if __name__ == "__main__":
    sys.exit(entry_point(main)())
