"""Greedy rewriting speed and fidelity: the torch decode loop against the CTranslate2 engine.

    python bench/bench_engine.py                       # bundled Yelp model, Li et al. test set, 2 threads
    python bench/bench_engine.py --model runs/yelp/best --batches 1 64 --threads 1

One run, one Markdown table on stdout. The model folder is copied into a temporary folder and
given CTranslate2 copies in each storage type (`python -m textcycle.ct2_export` does the same
in place); nothing is written into the model folder. Rows: the torch `decode` loop (fp32),
CTranslate2 with float32 weights, float16 weights (computed in float32 on a CPU), int8 weights
(computed in int8, and in float32), and the default export `int8_embed_float16` (int8 layers,
float16 embeddings; computed in float32, and in int8). Columns: sentences/s at each batch
size over all 500 + 500 sentences (negative -> positive, positive -> negative), how many of
the greedy outputs are identical to torch's (batch 64), the model folder's size with that
copy, and the cold start (a fresh process: import, load, rewrite one sentence). A matrix-
multiply probe before and after shows whether the shared CPU changed speed meanwhile; compare
rows of one run only.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from textcycle.cli import entry_point, thread_count  # noqa: E402

# (label, storage quantization, compute type); None = torch
CONFIGS = [
    ("torch decode loop (fp32)", None, None),
    ("CT2 float32", "float32", "float32"),
    ("CT2 float16 weights, float32 compute", "float16", "float32"),
    ("CT2 int8", "int8", "int8"),
    ("CT2 int8 weights, float32 compute", "int8", "float32"),
    ("CT2 int8_embed_float16, float32 compute (default export)", "int8_embed_float16", "float32"),
    ("CT2 int8_embed_float16, int8 compute", "int8_embed_float16", "int8"),
]


def matmul_gflops(seconds: float = 1.0) -> float:
    a = np.random.default_rng(0).standard_normal((512, 512), dtype=np.float32)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ a
        n += 1
    return 2 * 512**3 * n / (time.perf_counter() - t0) / 1e9


def load_sentences(data: Path) -> list[list[str]]:
    from textcycle.text.textnorm import normalize

    out = []
    for s in (0, 1):
        f = data / f"sentiment.test.{s}"
        if not f.is_file():
            sys.exit(f"error: {f} not found (the Li et al. test set; --data names its folder)")
        out.append([normalize(line.strip()) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()])
    return out


def folder_mib(p: Path) -> float:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 2**20


def cold_start(folder: Path, engine: str, compute_type: str | None, threads: int) -> float:
    """Seconds for a fresh process to import, load the model and rewrite one sentence."""
    if engine == "torch":
        code = (
            f"import torch; torch.set_num_threads({threads})\n"
            "from textcycle.text.model import TextCycleModel\n"
            "from textcycle.text.networks import decode, pad_batch\n"
            f"m = TextCycleModel.from_pretrained({str(folder)!r})\n"
            "x, k = pad_batch(m.tokenizer.encode_fast(['the food was cold .'], m.max_length))\n"
            "decode(m.generators[1], x, k, m.max_length + 8)\n"
        )
    else:
        code = (
            "from textcycle.engines.ct2 import CT2Engine\n"
            "from textcycle.model_folder import ModelFolder\n"
            f"e = CT2Engine.from_folder(ModelFolder.open({str(folder)!r}), threads={threads}, "
            f"compute_type={compute_type!r})\n"
            "e.generate(['the food was cold .'], 1)\n"
        )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True)
    return time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "textcycle" / "pretrained" / "yelp"))
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "yelp" / "li2018"))
    ap.add_argument("--threads", type=thread_count, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 64, 512])
    ap.add_argument("--limit", type=int, default=0, help="first N sentences per direction only (default: all)")
    args = ap.parse_args(argv)

    import torch

    from textcycle.engines.ct2 import CT2Engine
    from textcycle.engines.ct2_convert import export_ctranslate2
    from textcycle.model_folder import ModelFolder
    from textcycle.text.model import TextCycleModel
    from textcycle.text.networks import decode, pad_batch

    torch.set_num_threads(args.threads)
    sents = [s[: args.limit or None] for s in load_sentences(Path(args.data))]
    model = TextCycleModel.from_pretrained(args.model)
    ids = [model.tokenizer.encode_fast(s, model.max_length) for s in sents]
    n = sum(len(x) for x in ids)
    max_new = model.max_length + 8
    probe_before = matmul_gflops()

    work = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    folders, sizes = {}, {}
    try:
        for q in sorted({q for _, q, _ in CONFIGS if q}):
            folders[q] = work / q
            shutil.copytree(args.model, folders[q], ignore=shutil.ignore_patterns("ct2"))
            export_ctranslate2(model, folders[q], q)
            sizes[q] = folder_mib(folders[q])
        base_size = folder_mib(Path(args.model)) - (
            folder_mib(Path(args.model) / "ct2") if (Path(args.model) / "ct2").is_dir() else 0
        )
        engines = {
            (q, c): CT2Engine.from_folder(ModelFolder.open(folders[q]), threads=args.threads, compute_type=c)
            for _, q, c in CONFIGS
            if q
        }

        def run(q, c, bs, limit=None):
            outs = []
            for s in (0, 1):
                for i in range(0, min(len(ids[s]), limit or len(ids[s])), bs):
                    batch = ids[s][i : i + bs]
                    if q is None:
                        x, m = pad_batch(batch)
                        with torch.no_grad():
                            out = decode(model.generators[1 - s], x, m, max_new)
                        outs += [[int(t) for t in row if t != 0] for row in out]
                    else:
                        outs += [h[0] for h in engines[(q, c)].generate_ids(batch, 1 - s)]
            return outs

        speed, outputs = {}, {}
        for bs in args.batches:
            for label, q, c in CONFIGS:
                run(q, c, bs, limit=bs)  # warm-up: one batch per direction
                t0 = time.perf_counter()
                outputs[(label, bs)] = run(q, c, bs)
                speed[(label, bs)] = n / (time.perf_counter() - t0)
        ref_bs = 64 if 64 in args.batches else args.batches[0]
        ref = outputs[(CONFIGS[0][0], ref_bs)]
        probe_after = matmul_gflops()
        starts = {
            label: cold_start(folders[q] if q else Path(args.model), "ct2" if q else "torch", c, args.threads)
            for label, q, c in CONFIGS
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    import ctranslate2

    print(
        f"Greedy rewriting of {n} Li et al. test sentences ({len(ids[0])} neg -> pos, {len(ids[1])} "
        f"pos -> neg), {Path(args.model).name}, {args.threads} threads, one run; torch {torch.__version__}, "
        f"ctranslate2 {ctranslate2.__version__}; matmul probe {probe_before:.0f} GFLOP/s before, "
        f"{probe_after:.0f} after.\n"
    )
    head = (
        "| engine | "
        + " | ".join(f"sent/s batch {b}" for b in args.batches)
        + f" | identical to torch (batch {ref_bs}) | model folder MiB | cold start s |"
    )
    print(head)
    print("|---|" + "---:|" * (len(args.batches) + 3))
    for label, q, _ in CONFIGS:
        same = sum(a == b for a, b in zip(ref, outputs[(label, ref_bs)]))
        size = sizes[q] if q else base_size
        cells = [f"{speed[(label, b)]:.0f}" for b in args.batches]
        ident = "reference" if q is None else f"{same}/{n}"
        print(f"| {label} | " + " | ".join(cells) + f" | {ident} | {size:.1f} | {starts[label]:.1f} |")
    # the same outputs at every batch size?
    drift = {
        label: [b for b in args.batches if outputs[(label, b)] != outputs[(label, ref_bs)]] for label, _, _ in CONFIGS
    }
    drift = {k: v for k, v in drift.items() if v}
    if drift:
        print(
            "\nOutputs that change with the batch size: "
            + "; ".join(f"{k} at batch {', '.join(map(str, v))}" for k, v in drift.items())
        )


if __name__ == "__main__":
    sys.exit(entry_point(main)())
