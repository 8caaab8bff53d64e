"""The Yelp test set (Li et al. 2018 split), its references, and system output folders.

Layout of the data folder (`../shared/data/yelp`, or what `data/download.py` writes):
- `li2018/sentiment.test.{0,1}`: 500 negative / 500 positive source sentences (corpus form);
- `reference.{0,1}`: `source<TAB>human rewrite` (Li et al.; natural, cased text);
- `references4/reference{0,1,2,3}.{0,1}`: four human rewrites per source (Luo et al. 2019;
  `reference0` is the Li reference, tokenised).
A system folder holds `neg2pos.txt` (rewrites of `sentiment.test.0`, line by line) and
`pos2neg.txt` (rewrites of `sentiment.test.1`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TextcycleError
from ..files import printable, read_lines, resolved

DIRECTIONS = ("neg2pos", "pos2neg")  # direction d rewrites source style d into style 1 - d


@dataclass
class YelpTestSet:
    root: Path
    sources: list = field(default_factory=lambda: [[], []])  # sources[s]: style-s sentences
    li_refs: list = field(default_factory=lambda: [[], []])  # Li et al. reference (natural text)
    refs4: list = field(default_factory=lambda: [[], []])  # refs4[s][k]: reference k of style s

    def __len__(self) -> int:
        return len(self.sources[0]) + len(self.sources[1])


def load_testset(data_dir: str | Path) -> YelpTestSet:
    """Read sources and references; every file must have one line per source sentence."""
    root = Path(data_dir)
    if not (root / "li2018").is_dir():
        raise TextcycleError(f"{root} is not a Yelp data folder (no li2018/ in it); pass --data")
    ts = YelpTestSet(root=root)
    for s in (0, 1):
        ts.sources[s] = check_lines(
            read_lines(root / "li2018" / f"sentiment.test.{s}"), root / "li2018" / f"sentiment.test.{s}"
        )
        n = len(ts.sources[s])
        ref_file = root / f"reference.{s}"
        refs, srcs = [], []
        for i, line in enumerate(read_lines(ref_file), 1):
            if line.count("\t") != 1:
                raise TextcycleError(f"{ref_file}: line {i} is not `source<TAB>reference`")
            a, b = line.split("\t")
            srcs.append(a)
            refs.append(b)
        if srcs != ts.sources[s]:
            raise TextcycleError(f"{ref_file}: source column is not li2018/sentiment.test.{s}")
        ts.li_refs[s] = check_lines(refs, ref_file, n)
        for k in range(4):
            f = root / "references4" / f"reference{k}.{s}"
            ts.refs4[s].append(check_lines(read_lines(f), f, n))
    return ts


def check_lines(lines: list[str], path: str | Path, expected: int | None = None) -> list[str]:
    """Refuse a wrong line count or an empty line, naming the file (and line)."""
    if expected is not None and len(lines) != expected:
        raise TextcycleError(f"{path}: has {len(lines)} lines, expected {expected} (one per test sentence)")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            raise TextcycleError(f"{path}: line {i} is empty")
    return lines


def read_system_dir(path: str | Path, testset: YelpTestSet) -> tuple[list[str], list[str]]:
    """`neg2pos.txt` and `pos2neg.txt` of a system folder, checked against the test set."""
    p = Path(path)
    if not p.is_dir():
        raise TextcycleError(f"system folder not found: {p}")
    out = []
    for s, d in enumerate(DIRECTIONS):
        f = p / f"{d}.txt"
        out.append(check_lines(read_lines(f), f, len(testset.sources[s])))
    return out[0], out[1]


def unique_names(dirs: list[str]) -> list[str]:
    """A name per system folder: its basename, or where basenames clash the shortest trailing
    part of the path that tells them apart (`runs/a/best`, `runs/b/best` -> `a/best`, `b/best`).
    Names come from the real paths (symlinks resolved); one folder given twice (or through a
    link) is an error, not two systems merged under one name."""
    real = [resolved(d) for d in dirs]
    seen: dict = {}
    for d, r in zip(dirs, real):
        if r in seen:
            also = "" if str(r) in (d, seen[r]) else f" (both are {printable(r)})"
            raise TextcycleError(
                f"the same system folder is given twice: {printable(seen[r])} and {printable(d)}{also}"
            )
        seen[r] = d
    parts = [r.parts for r in real]
    names = []
    for i, p in enumerate(parts):
        for k in range(1, len(p) + 1):
            tail = p[-k:]
            if all(q[-k:] != tail for j, q in enumerate(parts) if j != i):
                break
        names.append("/".join(tail))
    return names
