"""Turn saved PTT pages and JSON dumps into two style corpora: 噓 (negative) and 推 (positive).

Per article, in page order:
1. A comment split over several lines is joined: PTT cuts long comments into consecutive
   pushes by the same user, the later lines with the same tag or (usually) "→". A push joins
   the previous one when the user id is the same and its tag is the same, or is "→" after a
   推/噓 (`join_arrow`). Lines are joined without a space, except between two Latin letters or
   digits.
2. Cleaning: web addresses, @mentions and the user ids of the article's commenters and author
   (as whole ASCII words of 3+ characters with a digit, or 4+ characters) are removed; then
   `textnorm.zh_normalize` (full-width punctuation, spaces, emoji) and the optional OpenCC
   conversion.
3. Filters: comments without a letter or CJK character, shorter than `min_chars` or longer
   than `max_chars` characters are dropped; duplicates are dropped (the first one is kept),
   and a text that occurs both as 推 and as 噓 is dropped from both.
4. Hold-out: whole articles are held out for a dev and a test split per style
   (`holdout` comments each, at most `holdout_max_fraction` of the style).

Output in `out_dir`: `neg.txt` / `pos.txt` (training, one comment per line),
`neg.dev.txt` / `pos.dev.txt`, `neg.test.txt` / `pos.test.txt`, `neu.txt` with the "→"
comments when `neutral` is set, and `ingest.json` with the counts and options. The output
folder must not be an input folder or inside one (its files would mix with the inputs).

An input file that cannot be read (not UTF-8 JSON, invalid or too deeply nested JSON, a read
error) is skipped with a one-line warning naming it; the other files are ingested.

This file is over 400 lines: joining, cleaning, deduplication, holdout and the written set of
files are one pass over the inputs.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from ..errors import TextcycleError
from ..errors import warn as warn_line
from ..files import atomic_write_texts, resolved
from ..files import check_output_folder as check_folder_path
from ..files import printable as printable_path
from ..text.data import strip_urls
from ..text.textnorm import zh_convert, zh_normalize
from .parse import ARROW, BOO, PUSH, Article, normalize_tag, parse_article_html, parse_json_dump

_MENTION = re.compile(r"[@＠]\s*[A-Za-z][A-Za-z0-9_]*")
_CONTENT = re.compile(r"[^\W\d_]")  # at least one letter or CJK character


@dataclass
class IngestOptions:
    min_chars: int = 4
    max_chars: int = 80
    neutral: bool = False  # also write neu.txt with the "→" comments
    join: bool = True  # join continuation lines of the same user
    join_arrow: bool = True  # a "→" right after the same user's 推/噓 continues that comment
    strip_user_ids: bool = True
    convert: Optional[str] = None  # OpenCC conversion, e.g. "t2s" for a Simplified corpus
    holdout: int = 500  # comments per style held out for dev and again for test (0: none)
    holdout_max_fraction: float = 0.05  # ... but at most this share of the style, each
    seed: int = 0


@dataclass
class IngestStats:
    files: int = 0
    html_files: int = 0
    json_files: int = 0
    articles: int = 0
    duplicate_articles: int = 0
    pages_without_comments: int = 0
    over18_pages: int = 0
    pushes: dict = field(default_factory=lambda: {PUSH: 0, BOO: 0, ARROW: 0})
    odd_tags: int = 0  # pushes whose tag is not 推/噓/→ (or missing)
    joined_lines: int = 0  # continuation lines merged into the comment above them
    comments: dict = field(default_factory=lambda: {PUSH: 0, BOO: 0, ARROW: 0})
    empty: int = 0  # nothing left after removing URLs and ids
    too_short: int = 0
    too_long: int = 0
    duplicates: int = 0
    both_labels: int = 0  # distinct texts that occur as 推 and as 噓
    written: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)  # files that could not be read: "path: reason"
    recovered: list = field(default_factory=list)  # broken dumps read line by line: "path: what"

    def summary(self) -> str:
        p, b, a = (self.pushes[t] for t in (PUSH, BOO, ARROW))
        lines = [
            f"files: {self.files:,} ({self.html_files:,} HTML, {self.json_files:,} JSON); "
            f"articles: {self.articles:,} (+{self.duplicate_articles:,} seen twice, "
            f"{self.pages_without_comments:,} without comments)",
            f"pushes: 推 {p:,}  噓 {b:,}  → {a:,}  (odd or missing tag: {self.odd_tags:,}); "
            f"continuation lines joined: {self.joined_lines:,}",
            f"comments: 推 {self.comments[PUSH]:,}  噓 {self.comments[BOO]:,}  → {self.comments[ARROW]:,}; "
            f"dropped: {self.empty:,} empty, {self.too_short:,} too short, {self.too_long:,} too long, "
            f"{self.duplicates:,} duplicates, {self.both_labels:,} both 推 and 噓",
        ]
        if self.skipped:
            lines.append(f"warning: {len(self.skipped):,} unreadable file(s) skipped (named above)")
        if self.recovered:
            lines.append(f"warning: {len(self.recovered):,} broken dump(s) read line by line (named above)")
        if self.over18_pages:
            lines.append(f"warning: {self.over18_pages:,} pages were PTT's over-18 question, not articles")
        lines.append("written: " + ", ".join(f"{k} {v:,}" for k, v in self.written.items()))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# reading


def find_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """HTML/JSON files under `paths` (files or folders), board index pages left out, sorted."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        try:
            out.extend(_inputs_under(p))
        except OSError as e:
            raise TextcycleError(f"cannot read {printable_path(p)}: {e.strerror or e}") from None
    return out


def _inputs_under(p: Path) -> list[Path]:
    if p.is_file():
        return [p]
    if not p.is_dir():
        if p.exists():
            raise TextcycleError(f"not a regular file or folder: {printable_path(p)}")
        raise TextcycleError(f"not found: {printable_path(p)}")
    out = []
    for f in sorted(p.rglob("*")):
        if not f.is_file() or f.suffix.lower() not in (".html", ".htm", ".json", ".jsonl"):
            continue
        if f.name.lower().startswith("index") and f.suffix.lower() in (".html", ".htm"):
            continue  # board index pages: lists of links, no comments
        if f.name == "ingest.json":
            continue
        out.append(f)
    return out


def read_articles(
    files: Iterable[Path], stats: IngestStats, warn: Callable[[str], None] = warn_line
) -> Iterator[Article]:
    """The articles of each file; a file that cannot be read is skipped with a warning."""
    for f in files:
        stats.files += 1
        suffix = f.suffix.lower()
        try:
            if suffix in (".json", ".jsonl"):
                stats.json_files += 1

                def recovered(msg: str, f=f) -> None:
                    stats.recovered.append(msg)
                    warn(printable_path(f) + msg[len(str(f)) :])

                # read whole: a bad file gives no articles
                articles = list(parse_json_dump(f, warn=recovered))
            else:
                stats.html_files += 1
                text = f.read_bytes().decode("utf-8", errors="replace")
                articles = [parse_article_html(text, source=str(f))]
        except TextcycleError as e:
            reason = str(e)
            if reason.startswith(f"{f}: "):
                reason = reason[len(f"{f}: ") :]
            stats.skipped.append(f"{f}: {reason}")
            warn(f"skipped {printable_path(f)}: {reason}")
            continue
        except OSError as e:
            stats.skipped.append(f"{f}: {e.strerror or e}")
            warn(f"skipped {printable_path(f)}: {e.strerror or e}")
            continue
        yield from articles


# ---------------------------------------------------------------------------------------------
# comments


def _alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()  # [A-Za-z0-9]


def join_parts(parts: list[str]) -> str:
    """The lines of one comment joined: without a space, except between two Latin letters or
    digits; empty lines add nothing. One pass and one join (joining line by line copied the
    comment so far for every line: quadratic in a comment of many lines)."""
    out: list[str] = []
    for part in parts:
        if not part:
            continue
        if out and _alnum(out[-1][-1]) and _alnum(part[0]):
            out.append(" ")
        out.append(part)
    return "".join(out)


def _id_pattern(article: Article) -> Optional[re.Pattern]:
    ids = {p.user for p in article.pushes if p.user}
    author = article.author.split(" ")[0].split("(")[0].strip()
    if author:
        ids.add(author)
    keep = sorted(
        (
            i
            for i in ids
            if re.fullmatch(r"[A-Za-z0-9_]+", i) and (len(i) >= 4 or (len(i) >= 3 and re.search(r"\d", i)))
        ),
        key=len,
        reverse=True,
    )
    if not keep:
        return None
    return re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(map(re.escape, keep)) + r")(?![A-Za-z0-9_])", re.IGNORECASE)


def article_comments(article: Article, opts: IngestOptions, stats: IngestStats) -> list[tuple[str, str]]:
    """(tag, raw text) of each comment of `article`, continuation lines joined."""
    groups: list[list] = []  # [tag, user, [lines]]
    for push in article.pushes:
        tag = normalize_tag(push.tag)
        if tag is None:
            stats.odd_tags += 1
            groups.append(None)  # an odd line breaks a chain of continuation lines
            continue
        stats.pushes[tag] += 1
        last = groups[-1] if groups else None
        if (
            opts.join
            and last is not None
            and push.user
            and push.user == last[1]
            and (tag == last[0] or (opts.join_arrow and tag == ARROW))
        ):
            last[2].append(push.content.strip())
            stats.joined_lines += 1
            continue
        groups.append([tag, push.user, [push.content.strip()]])
    return [(g[0], join_parts(g[2])) for g in groups if g is not None]


def clean_comment(text: str, ids: Optional[re.Pattern], convert: Optional[str]) -> str:
    text = strip_urls(text)
    text = _MENTION.sub(" ", text)
    if ids is not None:
        text = ids.sub(" ", text)
    text = zh_normalize(text, convert=convert)
    return re.sub(r"^[\s，,：:、]+|[\s，,：:、]+$", "", text)


# ---------------------------------------------------------------------------------------------
# the whole pipeline


def collect(
    paths: Iterable[str | Path], opts: IngestOptions, stats: IngestStats, warn: Callable[[str], None] = warn_line
):
    """Per tag, a list of (article key, comment) after joining, cleaning, filtering and dedup."""
    files = find_inputs(paths)
    if not files:
        raise TextcycleError("no .html/.json/.jsonl files found in " + ", ".join(map(printable_path, paths)))
    seen_articles: set[str] = set()
    raw: dict[str, list[tuple[str, str]]] = {PUSH: [], BOO: [], ARROW: []}
    for art in read_articles(files, stats, warn):
        if art.over18_gate:
            stats.over18_pages += 1
            continue
        if art.key in seen_articles:
            stats.duplicate_articles += 1
            continue
        seen_articles.add(art.key)
        stats.articles += 1
        comments = article_comments(art, opts, stats)
        if not comments:
            stats.pages_without_comments += 1
            continue
        ids = _id_pattern(art) if opts.strip_user_ids else None
        for tag, text in comments:
            stats.comments[tag] += 1
            text = clean_comment(text, ids, opts.convert)
            if not _CONTENT.search(text):
                stats.empty += 1
            elif len(text) < opts.min_chars:
                stats.too_short += 1
            elif len(text) > opts.max_chars:
                stats.too_long += 1
            else:
                raw[tag].append((art.key, text))
    # dedup within a tag; texts that are both 推 and 噓 say nothing about style
    texts = {t: Counter(x for _, x in raw[t]) for t in raw}
    both = set(texts[PUSH]) & set(texts[BOO])
    stats.both_labels = len(both)
    out: dict[str, list[tuple[str, str]]] = {}
    for tag, items in raw.items():
        seen: set[str] = set()
        kept = []
        for key, text in items:
            if tag != ARROW and text in both:
                continue
            if text in seen:
                stats.duplicates += 1
                continue
            seen.add(text)
            kept.append((key, text))
        out[tag] = kept
    return out


def hold_out(items: list[tuple[str, str]], n: int, seed: int):
    """Split (article, text) pairs into train/dev/test, each held-out split from whole articles."""
    if n <= 0:
        return [t for _, t in items], [], []
    by_article: dict[str, list[int]] = {}
    for i, (key, _) in enumerate(items):
        by_article.setdefault(key, []).append(i)
    keys = sorted(by_article)
    random.Random(seed).shuffle(keys)
    dev: list[int] = []
    test: list[int] = []
    held: set[int] = set()
    for key in keys:
        idx = by_article[key]
        if len(test) < n:
            test.extend(idx)
        elif len(dev) < n:
            dev.extend(idx)
        else:
            break
        held.update(idx)
    test, dev = test[:n], dev[:n]  # the rest of a cut article is dropped, not trained on
    train = [t for i, (_, t) in enumerate(items) if i not in held]
    return train, [items[i][1] for i in dev], [items[i][1] for i in test]


OUTPUT_FILES = (
    "neg.txt",
    "neg.dev.txt",
    "neg.test.txt",
    "pos.txt",
    "pos.dev.txt",
    "pos.test.txt",
    "neu.txt",
    "ingest.json",
)


def check_output_folder(paths: Iterable[str | Path], out_dir: str | Path) -> None:
    """TextcycleError unless `out_dir` is a folder (or can be made one) outside every input
    folder, and no input file is one of the files ingest writes."""
    out = Path(out_dir)
    paths = [Path(p) for p in paths]
    check_folder_path(out, "output folder", [p for p in paths if p.is_dir()], kind="input folder")
    outputs = {resolved(out) / name for name in OUTPUT_FILES}
    for p in paths:
        if p.is_file() and resolved(p) in outputs:
            raise TextcycleError(
                f"input {printable_path(p)} is one of the files ingest writes to "
                f"{printable_path(out)}: choose another output folder"
            )


def _lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def ingest(
    paths: Iterable[str | Path],
    out_dir: str | Path,
    opts: IngestOptions | None = None,
    warn: Callable[[str], None] = warn_line,
) -> IngestStats:
    """Read PTT pages/dumps under `paths` and write the neg/pos (and neu) corpora to `out_dir`.
    `warn` gets a one-line message for each input file skipped as unreadable."""
    opts = opts or IngestOptions()
    if opts.min_chars < 1 or opts.max_chars < opts.min_chars:
        raise TextcycleError(f"bad length limits: min_chars {opts.min_chars}, max_chars {opts.max_chars}")
    if not (math.isfinite(opts.holdout_max_fraction) and 0 <= opts.holdout_max_fraction <= 1):
        raise TextcycleError(f"holdout_max_fraction must be between 0 and 1, not {opts.holdout_max_fraction}")
    zh_convert("", opts.convert)  # an unknown conversion or missing OpenCC fails before the work
    paths = list(paths)
    check_output_folder(paths, out_dir)
    stats = IngestStats()
    comments = collect(paths, opts, stats, warn)
    if not comments[PUSH] and not comments[BOO]:
        raise TextcycleError(
            f"no 推/噓 comments found in {stats.files} file(s) "
            f"({stats.articles} articles, {stats.over18_pages} over-18 pages"
            + (f", {len(stats.skipped)} unreadable" if stats.skipped else "")
            + ")"
        )
    out = Path(out_dir)
    files = {}  # name -> text, written as one set at the end
    for tag, name in ((BOO, "neg"), (PUSH, "pos")):
        items = comments[tag]
        n = min(opts.holdout, int(len(items) * opts.holdout_max_fraction))
        train, dev, test = hold_out(items, n, opts.seed + (tag == PUSH))
        for suffix, lines in (("", train), (".dev", dev), (".test", test)):
            files[f"{name}{suffix}.txt"] = _lines(lines)
            stats.written[f"{name}{suffix}.txt"] = len(lines)
    if opts.neutral:
        lines = [t for _, t in comments[ARROW]]
        files["neu.txt"] = _lines(lines)
        stats.written["neu.txt"] = len(lines)
    info = {"inputs": [str(p) for p in paths], "options": asdict(opts), "stats": asdict(stats)}
    text = json.dumps(info, ensure_ascii=False, indent=1) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8: escape it
        text = json.dumps(info, indent=1) + "\n"
    files["ingest.json"] = text
    try:  # every file to a temporary name first, then all renamed: a full disk leaves none
        atomic_write_texts({out / name: text for name, text in files.items()})
    except OSError as e:
        raise TextcycleError(f"cannot write the corpus to {printable_path(out)}: {e.strerror or e}") from None
    return stats
