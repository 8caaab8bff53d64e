"""Faithful text: does a rewrite keep the source's numbers and names exactly as written?

A style rewrite should change the style words and nothing a reader would check: prices, times,
phone numbers, counts and names. Per sentence: every number of the source is in the rewrite
(the same string, as often), no number of the rewrite is missing from the source (an invented
number), and every given name is in the rewrite with its case. The probe sentences carry their
names (`read_probe`), so no name detector decides what counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..files import read_lines
from ..text.keep import numbers


@dataclass
class Faithfulness:
    numbers_kept: bool
    invented: list
    names_kept: bool
    missing_names: list


def check(source: str, rewrite: str, names: list[str]) -> Faithfulness:
    src, out = numbers(source), numbers(rewrite)
    invented = sorted((out - src).elements())
    missing = [n for n in names if n not in rewrite]
    return Faithfulness(not (src - out), invented, not missing, missing)


def read_probe(path: str | Path) -> list[tuple[str, list[str]]]:
    """(sentence, names) per line of a probe file: `sentence<TAB>name|name`; # starts a comment."""
    rows = []
    for line in read_lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        sentence, _, names = line.partition("\t")
        rows.append((sentence, [n for n in names.split("|") if n]))
    return rows


def summary(results: list[Faithfulness]) -> dict:
    """Counts over a probe: sentences with every number kept, with no invented number, with every
    name kept (of those that have numbers / names)."""
    return {
        "sentences": len(results),
        "numbers_kept": sum(r.numbers_kept for r in results),
        "no_invented_number": sum(not r.invented for r in results),
        "names_kept": sum(r.names_kept for r in results),
    }


def faults(r: Faithfulness) -> list[str]:
    return (
        ([] if r.numbers_kept else ["number lost"])
        + ([f"invented {' '.join(r.invented)}"] if r.invented else [])
        + ([f"name lost: {', '.join(r.missing_names)}"] if r.missing_names else [])
    )


def probe_markdown(rows: list[tuple[str, list[str]]], rewrites: list[str], n: int = 10) -> str:
    """A model card's probe section: the counts over every probe sentence, then the first `n`
    rewrites with their faults."""
    results = [check(src, out, names) for (src, names), out in zip(rows, rewrites)]
    s = summary(results)
    k = s["sentences"]
    lines = [
        f"Every number kept in {s['numbers_kept']}/{k}, no invented number in {s['no_invented_number']}/{k}, "
        f"every name kept in {s['names_kept']}/{k}.",
        "",
        "| source | rewrite | faults |",
        "|---|---|---|",
    ]
    for (src, _), out, r in list(zip(rows, rewrites, results))[:n]:
        cells = [c.replace("|", "\\|") for c in (src, out, "; ".join(faults(r)) or "-")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
