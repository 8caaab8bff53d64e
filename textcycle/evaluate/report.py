"""Markdown tables and CSV rows for metric dicts (see `core.py`)."""

from __future__ import annotations

import csv
import io
import random

from .core import CONCAT_KEYS, METRIC_KEYS
from .testset import DIRECTIONS

MAIN_COLUMNS = [
    ("style_accuracy", "ACC"),
    ("bleu_ref4", "BLEU 4-ref"),
    ("bleu_ref1", "BLEU 1-ref"),
    ("self_bleu", "self-BLEU"),
    ("perplexity", "PPL (our LM)"),
    ("perplexity_pretrained", "PPL (SmolLM2)"),
    ("g_ref4", "G 4-ref"),
    ("g_ref1", "G 1-ref"),
    ("hm_ref4", "HM 4-ref"),
    ("bleu_ref4_concat", "BLEU 4-ref (1000 concat)"),
    ("bleu_ref1_concat", "BLEU 1-ref (1000 concat)"),
]
DIRECTION_COLUMNS = [
    ("style_accuracy", "ACC"),
    ("bleu_ref4", "BLEU 4-ref"),
    ("bleu_ref1", "BLEU 1-ref"),
    ("self_bleu", "self-BLEU"),
    ("perplexity", "PPL"),
    ("perplexity_pretrained", "PPL (SmolLM2)"),
]


def _fmt(x, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


OPTIONAL = ("perplexity_pretrained",)  # shown only when some row has it


def _shown(columns, rows: list[dict]) -> list:
    return [(k, h) for k, h in columns if k not in OPTIONAL or any(r.get(k) is not None for r in rows)]


def markdown_table(results: list[dict], rank: bool = False) -> str:
    columns = _shown(MAIN_COLUMNS, results)
    head = (["#"] if rank else []) + ["System"] + [h for _, h in columns]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---:"] * rank + ["---"] + ["---:"] * len(columns)) + "|",
    ]
    for i, r in enumerate(results, 1):
        cells = ([str(i)] if rank else []) + [r.get("label") or r["name"]]
        cells += [_fmt(r.get(k), 1) for k, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_direction_table(results: list[dict]) -> str:
    columns = _shown(DIRECTION_COLUMNS, results)
    head = ["System"] + [f"{h} {d}" for k, h in columns for d in DIRECTIONS]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in results:
        cells = [r.get("label") or r["name"]]
        cells += [_fmt(r[d].get(k), 1) for k, _ in columns for d in DIRECTIONS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scores_table(rows: list[dict], fields, style_names=("negative", "positive")) -> str:
    """One line per system and direction (and both): `fields` = ((key, header), ...)."""
    a, b = style_names
    head = ["system", "direction"] + [h for _, h in fields]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(fields)]
    for r in rows:
        for label, d in ((f"{a} -> {b}", r[DIRECTIONS[0]]), (f"{b} -> {a}", r[DIRECTIONS[1]]), ("**both**", r)):
            lines.append(f"| {r['name']} | {label} | " + " | ".join(_fmt(d.get(k)) for k, _ in fields) + " |")
    return "\n".join(lines)


def samples_table(sources, outputs, style_names, n: int = 20, seed: int = 0, language: str = "en") -> str:
    """`n` rewrites per direction, a fixed random draw (good and bad alike), as natural text."""
    rng = random.Random(seed)
    picked = [sorted(rng.sample(range(len(sources[s])), min(n, len(sources[s])))) for s in (0, 1)]
    return rewrites_table(sources, outputs, style_names, picked, language)


MARKS = ("style flipped", "content kept", "fluent")  # what a reader marks of a rewrite


def rewrites_table(sources, outputs, style_names, picked, language: str = "en", columns=()) -> str:
    """Per direction s, the rewrites of the sources `picked[s]` as natural text, with empty
    `columns` for a reader to fill in (`MARKS`)."""
    from ..text.textnorm import denormalize

    lines = []
    for s in (0, 1):
        head = ["source", "rewrite", *columns]
        lines += [f"**{style_names[s]} -> {style_names[1 - s]}**", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "---|" * len(head))
        for i in picked[s]:
            cells = [denormalize(x, language).replace("|", "\\|") for x in (sources[s][i], outputs[s][i])]
            lines.append(f"| {cells[0]} | {cells[1]} |" + " |" * len(columns))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def flat_row(r: dict) -> dict:
    row = {"name": r["name"], "label": r.get("label", r["name"]), "kind": r.get("kind", "")}
    for k in METRIC_KEYS + CONCAT_KEYS:
        row[k] = r.get(k)
    for d in DIRECTIONS:
        for k in METRIC_KEYS:
            row[f"{d}_{k}"] = r[d].get(k)
    row["ref4_references"] = " ".join(r.get("references", {}).get("ref4", []))
    return row


def to_csv(results: list[dict]) -> str:
    rows = [flat_row(r) for r in results]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()
