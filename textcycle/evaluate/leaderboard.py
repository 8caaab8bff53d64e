"""Score every published system, a copy-input baseline, the human reference and our outputs.

Rows:
- every folder of `<data>/outputs/` that holds `neg2pos.txt` + `pos2neg.txt` (the published systems);
- "Copy input": the source sentence unchanged (the floor for style accuracy, the ceiling of self-BLEU);
- "Human (Li ref, 3-ref BLEU)": `references4/reference0` (the Li et al. reference, tokenised) scored
  as a system; its "4-ref" BLEU uses the *other three* references (reference1-3), since a
  reference scored against itself would be 100, and its 1-reference BLEU is left out;
- each `--ours` folder.
Sorted by G (4-ref), descending.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import TextcycleError
from ..files import atomic_write_texts
from .core import Evaluator
from .report import markdown_direction_table, markdown_table, to_csv
from .testset import read_system_dir, unique_names

HUMAN_LABEL = "Human: Li ref (BLEU 4-ref column = vs the 3 other refs)"


def run_leaderboard(ev: Evaluator, ours: list[str | Path] = (), log=print) -> list[dict]:
    ts = ev.ts
    jobs = []  # (name, kind, neg2pos, pos2neg, kwargs)
    out_root = ts.root / "outputs"
    systems = sorted(p for p in out_root.iterdir() if (p / "neg2pos.txt").is_file()) if out_root.is_dir() else []
    for p in systems:
        n2p, p2n = read_system_dir(p, ts)
        jobs.append((p.name, "published", n2p, p2n, {}))
    jobs.append(("Copy input", "baseline", ts.sources[0], ts.sources[1], {}))
    jobs.append(("Human", "human", ts.refs4[0][0], ts.refs4[1][0], {"ref4": (1, 2, 3), "ref1": False}))
    for d, name in zip(ours, unique_names([str(d) for d in ours])):
        n2p, p2n = read_system_dir(Path(d), ts)  # fails early, before any scoring
        jobs.append((f"ours: {name}", "ours", n2p, p2n, {}))
    ev.load_models()
    results = []
    for name, kind, n2p, p2n, kw in jobs:
        t0 = time.time()
        r = ev.score(n2p, p2n, name=name, **kw)
        r["kind"] = kind
        r["label"] = HUMAN_LABEL if kind == "human" else name
        results.append(r)
        log(f"scored {name} ({time.time() - t0:.1f}s)")
    results.sort(key=lambda r: -(r["g_ref4"] or 0.0))
    return results


def write_leaderboard(results: list[dict], out: str | Path, command: str = "") -> dict:
    """leaderboard.{md,csv,json} in `out`, written as one set: a failure (a full disk) leaves
    the old files, or none, and is one line."""
    out = Path(out)
    files = {"md": out / "leaderboard.md", "csv": out / "leaderboard.csv", "json": out / "leaderboard.json"}
    try:
        atomic_write_texts(
            {
                files["md"]: leaderboard_markdown(results, command),
                files["csv"]: to_csv(results),
                files["json"]: json.dumps(results, indent=1) + "\n",
            }
        )
    except OSError as e:
        raise TextcycleError(f"cannot write the leaderboard to {out}: {e.strerror or e}") from None
    return files


def leaderboard_markdown(results: list[dict], command: str = "") -> str:
    parts = ["# Yelp sentiment transfer leaderboard (Li et al. 2018 test set, 500 + 500 sentences)", ""]
    if command:
        parts += [f"Command: `{command}`", ""]
    parts += [
        "ACC: style accuracy of the project's evaluation classifier (fastText-style, trained on the "
        "Yelp training split). BLEU: sacrebleu corpus BLEU, tokenize=none on lowercased Yelp/PTB-"
        'tokenised text, **average of the two directions**; "(1000 concat)" = one BLEU over all '
        "1000 sentences. 4-ref = references4/reference0-3 (Luo et al. 2019); 1-ref = Li et al. "
        "reference. self-BLEU: against the source. PPL: perplexity under our small GPT-2-style LM "
        "(per SentencePiece token; lower is more fluent). PPL (SmolLM2): perplexity under the "
        "pretrained SmolLM2-135M-Instruct (per BPE token; `--pretrained-lm`; the field reports GPT-2's, "
        "which does not install offline), the base of textcycle's LM generators, which it favours. "
        "G = sqrt(ACC x BLEU), HM = harmonic mean. "
        "Sorted by G 4-ref.",
        "",
        markdown_table(results, rank=True),
        "",
        "## Per direction",
        "",
        markdown_direction_table(results),
        "",
    ]
    return "\n".join(parts)
