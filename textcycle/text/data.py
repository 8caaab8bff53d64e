"""Unpaired corpora: two piles of sentences, style 0 and style 1, with train/dev/test splits.

Sources:
- two plain text files per split (`from_text_files`), one sentence per line;
- a folder in the Yelp naming `sentiment.{train,dev,test}.{0,1}` (`from_folder`);
- a `datasets` dataset with a text and a label column (`from_dataset`): local files here,
  a hub name for users online;
- the Yelp data in ../shared/data (`yelp_shared`), whose training split is missing: train is
  built from Shen et al.'s dev+test files minus every Li et al. dev and test sentence,
  deduplicated; Li et al.'s dev is validation and Li et al.'s test is the test set.
- Chinese review folders with neg.txt/pos.txt (`zh_reviews`): one review per line, often several
  sentences long. Each review is normalised (`textnorm.zh_normalize`, with the optional OpenCC
  conversion `data.zh_convert`), split into sentences (`split_sentences`), and every sentence of
  `data.min_chars`..`data.max_chars` characters gets its review's label. Duplicates are dropped
  (first occurrence wins), and a sentence that occurs under both labels ("还行") is dropped from
  both; whole reviews are held out for test and dev, so no review has sentences in two splits;
  training sentences are shuffled (seeded), so `max_train_per_style` takes a mix of folders.

`python -m textcycle.text.data --config configs/zh-reviews.yaml` prints the split sizes of a config's
corpus (and with `--write DIR` writes `sentiment.{train,dev,test}.{0,1}` for the "folder" loader).

This file is over 400 lines: every loader is in one registry (`LOADERS`) beside the split, dedup
and length rules they share, so that each corpus is cut the same way.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..cli import entry_point
from ..config import add_config_arguments, shown
from ..errors import TextcycleError
from ..files import atomic_write_texts, check_output_folder, read_lines
from .config import DataConfig
from .textnorm import normalize, zh_clause_groups, zh_normalize, zh_sentences


@dataclass
class UnpairedCorpus:
    """Sentences of two styles; `train[s]`, `dev[s]`, `test[s]` are lists for style s in {0, 1}."""

    style_names: list
    train: list = field(default_factory=lambda: [[], []])
    dev: list = field(default_factory=lambda: [[], []])
    test: list = field(default_factory=lambda: [[], []])
    language: str = "en"

    def summary(self) -> str:
        rows = [f"{'split':6} " + " ".join(f"{n:>10}" for n in self.style_names)]
        for split in ("train", "dev", "test"):
            parts = getattr(self, split)
            rows.append(f"{split:6} " + " ".join(f"{len(p):>10,}" for p in parts))
        return "\n".join(rows)


def _prepare(lines, cfg: DataConfig, dedup: bool) -> list[str]:
    out, seen = [], set()
    for ln in lines:
        s = normalize(ln, cfg.language, zh_convert=cfg.zh_convert)
        if not (cfg.min_chars <= len(s) <= cfg.max_chars):
            continue
        if dedup:
            if s in seen:
                continue
            seen.add(s)
        out.append(s)
    return out


def _split_off(lines: list[str], fraction: float, seed: int, cap: int | None):
    """Hold out a random `fraction` of `lines` (at most `cap`) as a dev split."""
    idx = list(range(len(lines)))
    random.Random(seed).shuffle(idx)
    n = max(1, int(len(lines) * fraction)) if len(lines) > 1 else 0
    if cap is not None:
        n = min(n, cap)
    held = set(idx[:n])
    return [line for i, line in enumerate(lines) if i not in held], [lines[i] for i in sorted(held)]


def _finish(corpus: UnpairedCorpus, cfg: DataConfig) -> UnpairedCorpus:
    for s in (0, 1):
        if not corpus.dev[s] and corpus.train[s]:
            corpus.train[s], corpus.dev[s] = _split_off(
                corpus.train[s], cfg.dev_fraction, cfg.seed + s, cfg.max_dev_per_style
            )
        if cfg.max_train_per_style is not None:
            corpus.train[s] = corpus.train[s][: cfg.max_train_per_style]
        if cfg.max_dev_per_style is not None:
            corpus.dev[s] = corpus.dev[s][: cfg.max_dev_per_style]
        if not corpus.train[s]:
            raise TextcycleError(f"style {s} ({corpus.style_names[s]}) has no training sentences")
    return corpus


def from_text_files(cfg: DataConfig) -> UnpairedCorpus:
    """Two text files per split: `train_0`/`train_1` required, `dev_*`/`test_*` optional."""
    if not cfg.train_0 or not cfg.train_1:
        raise TextcycleError("data.source text_files needs data.train_0 and data.train_1")
    c = UnpairedCorpus(style_names=list(cfg.style_names), language=cfg.language)
    for s in (0, 1):
        c.train[s] = _prepare(read_lines(getattr(cfg, f"train_{s}")), cfg, dedup=True)
        for split in ("dev", "test"):
            f = getattr(cfg, f"{split}_{s}")
            if f:
                getattr(c, split)[s] = _prepare(read_lines(f), cfg, dedup=False)
    return _finish(c, cfg)


def from_folder(cfg: DataConfig) -> UnpairedCorpus:
    """A folder with `sentiment.{train,dev,test}.{0,1}` (dev and test optional)."""
    root = Path(cfg.path)
    if not root.is_dir():
        raise TextcycleError(f"data folder not found: {root}")
    c = UnpairedCorpus(style_names=list(cfg.style_names), language=cfg.language)
    for s in (0, 1):
        for split in ("train", "dev", "test"):
            f = root / f"sentiment.{split}.{s}"
            if f.is_file():
                getattr(c, split)[s] = _prepare(read_lines(f), cfg, dedup=(split == "train"))
            elif split == "train":
                raise TextcycleError(f"{f} is missing (a folder needs sentiment.train.0 and .1)")
    return _finish(c, cfg)


def from_dataset(cfg: DataConfig) -> UnpairedCorpus:
    """A `datasets` dataset: a local folder/file or a hub name, label 0/1 in `label_column`."""
    import datasets

    p = Path(cfg.path)
    try:
        if p.is_file():
            kind = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}.get(p.suffix)
            if kind is None:
                raise TextcycleError(f"{p}: unsupported dataset file type (csv, json, jsonl, parquet)")
            ds = datasets.load_dataset(kind, data_files=str(p))
        elif p.is_dir() and (p / "dataset_dict.json").exists() or (p / "dataset_info.json").exists():
            ds = datasets.load_from_disk(str(p))
        else:
            ds = datasets.load_dataset(cfg.path)
    except TextcycleError:
        raise
    except Exception as e:  # network, missing files, bad formats: one clear line
        reason = shown(str(e).splitlines()[0], 300, quote=False)
        raise TextcycleError(f"could not load dataset {shown(cfg.path)}: {reason}") from None
    if isinstance(ds, datasets.Dataset):
        ds = datasets.DatasetDict({"train": ds})
    c = UnpairedCorpus(style_names=list(cfg.style_names), language=cfg.language)
    names = {"train": "train", "validation": "dev", "dev": "dev", "test": "test"}
    for split_name, split in ds.items():
        target = names.get(split_name)
        if target is None:
            continue
        cols = split.column_names
        for col in (cfg.text_column, cfg.label_column):
            if col not in cols:
                raise TextcycleError(
                    f"dataset split {shown(split_name)} has no column {shown(col)} (columns: {shown(cols, 200)})"
                )
        texts, labels = split[cfg.text_column], split[cfg.label_column]
        for s in (0, 1):
            lines = [t for t, line in zip(texts, labels) if int(line) == s and isinstance(t, str)]
            getattr(c, target)[s] = _prepare(lines, cfg, dedup=(target == "train"))
    return _finish(c, cfg)


def yelp_shared(cfg: DataConfig) -> UnpairedCorpus:
    """The Yelp data of ../shared/data: Shen dev+test minus Li dev/test = train; Li dev/test."""
    root = Path(cfg.path)
    li = root / "li2018"
    if not (root / "sentiment.dev.0").is_file() or not li.is_dir():
        raise TextcycleError(f"{root} does not look like the shared Yelp folder (needs sentiment.dev.0 and li2018/)")
    c = UnpairedCorpus(style_names=list(cfg.style_names), language=cfg.language)
    stray = {"negative", "neutral", "positive", "very negative", "very positive"}
    for s in (0, 1):
        dev = [line for line in read_lines(li / f"sentiment.dev.{s}") if line.strip().lower() not in stray]
        test = read_lines(li / f"sentiment.test.{s}")
        c.dev[s] = _prepare(dev, cfg, dedup=True)
        c.test[s] = _prepare(test, cfg, dedup=False)
        # exclude Li dev/test sentences of *both* styles from training
        held = {
            normalize(line, cfg.language)
            for t in (0, 1)
            for sp in ("dev", "test")
            for line in read_lines(li / f"sentiment.{sp}.{t}")
        }
        lines = read_lines(root / f"sentiment.dev.{s}") + read_lines(root / f"sentiment.test.{s}")
        c.train[s] = [line for line in _prepare(lines, cfg, dedup=True) if line not in held]
    return _finish(c, cfg)


# ---------------------------------------------------------------------------------------------
# Chinese review folders (data.source "zh_reviews")

_LEAD = re.compile(r"^[\s，,、：:；;。.！!？?…~）)」』”’]+")
_TRAIL_COMMA = re.compile(r"[\s，,、：:]+$")
_CONTENT = re.compile(r"[^\W_]")  # a letter, digit or CJK character
_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)


def strip_urls(text: str) -> str:
    """Remove web addresses (http://..., https://..., www....)."""
    return _URL.sub(" ", text)


def split_sentences(text: str, max_chars: Optional[int] = None) -> list[str]:
    """Split Chinese text into sentences at 。！？!?；; … and line breaks (`textnorm.zh_sentences`).

    End marks (and closing quotes after them) stay with their sentence: "太慢了！下次不点了。"
    -> ["太慢了！", "下次不点了。"]. Leading punctuation and pieces without a letter, digit or
    CJK character are dropped. With `max_chars`, a longer sentence is cut at commas (，,、) into
    pieces of at most that many characters, without their trailing comma (a single clause
    longer than that stays whole, for the length filter to drop). Call it on normalised text
    (`zh_normalize` turns "好." into "好。" and "..." into "……").
    """
    out = []
    for sent in zh_sentences(text):
        piece = _LEAD.sub("", sent.strip())
        if not piece:
            continue
        if max_chars and len(piece) > max_chars:
            pieces = [_TRAIL_COMMA.sub("", p) for p in zh_clause_groups(piece, max_chars, hard_limit=False)]
        else:
            pieces = [piece]
        out.extend(p for p in (q.strip() for q in pieces) if p and _CONTENT.search(p))
    return out


def review_to_sentences(text: str, convert: Optional[str] = None, max_chars: Optional[int] = None) -> list[str]:
    """Raw review text -> sentences: split at line breaks, drop URLs, `zh_normalize`, split."""
    out = []
    for line in text.split("\n"):
        out.extend(split_sentences(zh_normalize(strip_urls(line), convert=convert), max_chars=max_chars))
    return out


# ---------------------------------------------------------------------------------------------
# the review loader (data.source "zh_reviews")


@dataclass
class ReviewStats:
    reviews: list = field(default_factory=lambda: [0, 0])  # non-empty reviews read per style
    sentences: list = field(default_factory=lambda: [0, 0])  # sentences that passed the length filter
    too_short: int = 0
    too_long: int = 0
    duplicates: int = 0
    both_labels: int = 0  # distinct sentences dropped because they occur with both labels

    def summary(self) -> str:
        return (
            f"reviews: {self.reviews[0]:,} / {self.reviews[1]:,}; sentences kept by length: "
            f"{self.sentences[0]:,} / {self.sentences[1]:,} (dropped {self.too_short:,} too short, "
            f"{self.too_long:,} too long); dropped {self.duplicates:,} duplicates and "
            f"{self.both_labels:,} sentences that occur with both labels"
        )


def review_folders(cfg: DataConfig) -> list[Path]:
    folders = [Path(p) for p in (cfg.paths or [cfg.path])]
    for root in folders:
        if not root.is_dir():
            raise TextcycleError(f"data folder not found: {root}")
        for name in ("neg.txt", "pos.txt"):
            if not (root / name).is_file():
                raise TextcycleError(f"{root / name} is missing (a zh_reviews folder needs neg.txt and pos.txt)")
    return folders


def review_sentences(cfg: DataConfig, stats: ReviewStats | None = None) -> list[list[list[str]]]:
    """Per style, the reviews of all folders as lists of normalised, length-filtered sentences."""
    stats = stats if stats is not None else ReviewStats()
    reviews: list[list[list[str]]] = [[], []]
    for root in review_folders(cfg):
        for s, name in ((0, "neg.txt"), (1, "pos.txt")):
            for line in read_lines(root / name):
                kept = []
                for sent in review_to_sentences(line, cfg.zh_convert, cfg.max_chars):
                    if len(sent) < cfg.min_chars:
                        stats.too_short += 1
                    elif len(sent) > cfg.max_chars:
                        stats.too_long += 1
                    else:
                        kept.append(sent)
                if kept:
                    reviews[s].append(kept)
                    stats.reviews[s] += 1
                    stats.sentences[s] += len(kept)
    return reviews


def _dedup(reviews: list[list[list[str]]], stats: ReviewStats) -> list[list[list[str]]]:
    labels: dict[str, int] = {}
    for s in (0, 1):
        for review in reviews[s]:
            for sent in review:
                labels[sent] = labels.get(sent, 0) | (1 << s)
    both = {sent for sent, bits in labels.items() if bits == 3}
    stats.both_labels = len(both)
    seen: set[str] = set()
    out: list[list[list[str]]] = [[], []]
    for s in (0, 1):
        for review in reviews[s]:
            kept = []
            for sent in review:
                if sent in both:
                    continue
                if sent in seen:
                    stats.duplicates += 1
                    continue
                seen.add(sent)
                kept.append(sent)
            if kept:
                out[s].append(kept)
    return out


def _target(total: int, fraction: float, cap: Optional[int]) -> int:
    n = int(total * fraction)
    if fraction > 0 and total > 2:
        n = max(1, n)
    return min(n, cap) if cap is not None else n


def load_zh_reviews(cfg: DataConfig, stats: ReviewStats | None = None):
    """data.source "zh_reviews": Chinese review folders -> sentence-level UnpairedCorpus."""
    if cfg.language != "zh":
        raise TextcycleError("data.source zh_reviews needs data.language: zh")
    if len(cfg.style_names) != 2:
        raise TextcycleError("data.style_names must name exactly two styles")
    stats = stats if stats is not None else ReviewStats()
    reviews = _dedup(review_sentences(cfg, stats), stats)
    c = UnpairedCorpus(style_names=list(cfg.style_names), language="zh")
    for s in (0, 1):
        rng = random.Random(cfg.seed + s)
        order = list(range(len(reviews[s])))
        rng.shuffle(order)
        total = sum(len(r) for r in reviews[s])
        n_test = _target(total, cfg.test_fraction, cfg.max_test_per_style)
        n_dev = _target(total, cfg.dev_fraction, cfg.max_dev_per_style)
        train, dev, test = [], [], []
        for i in order:
            if len(test) < n_test:
                test.extend(reviews[s][i])
            elif len(dev) < n_dev:
                dev.extend(reviews[s][i])
            else:
                train.extend(reviews[s][i])
        # the rest of a review cut off at the split size is dropped, not moved to train
        c.test[s], c.dev[s] = test[:n_test], dev[:n_dev]
        rng.shuffle(train)
        c.train[s] = train
        if not c.dev[s] and len(c.train[s]) > 1:  # tiny corpora: _finish must not split by sentence
            c.dev[s] = [c.train[s].pop()]
    return _finish(c, cfg)


LOADERS = {
    "yelp_shared": yelp_shared,
    "folder": from_folder,
    "text_files": from_text_files,
    "dataset": from_dataset,
    "zh_reviews": lambda cfg: load_zh_reviews(cfg),
}


def data_folders(cfg: DataConfig) -> list[Path]:
    """The folders `cfg` reads a corpus from, which a run folder must stay out of (its files
    would mix with the data). text_files name their files one by one: no folder."""
    if cfg.source == "zh_reviews":
        return [Path(p) for p in (cfg.paths or [cfg.path])]
    if cfg.source in ("folder", "yelp_shared") or cfg.source == "dataset" and Path(cfg.path).is_dir():
        return [Path(cfg.path)]
    return []


def load_corpus(cfg: DataConfig) -> UnpairedCorpus:
    """Load the unpaired corpus that `cfg.source` names."""
    if cfg.source not in LOADERS:
        raise TextcycleError(f"data.source {shown(cfg.source)} is not one of {', '.join(LOADERS)}")
    if len(cfg.style_names) != 2:
        raise TextcycleError("data.style_names must name exactly two styles")
    if cfg.zh_convert and cfg.language != "zh":
        raise TextcycleError("data.zh_convert is for Chinese corpora: set data.language: zh")
    return LOADERS[cfg.source](cfg)


# ---------------------------------------------------------------------------------------------
# python -m textcycle.text.data: sizes of the corpus a config makes


@entry_point
def main(argv: list[str] | None = None) -> int:
    from ..config import load_config

    ap = argparse.ArgumentParser(
        prog="python -m textcycle.text.data",
        description="Load the corpus a config names (e.g. configs/zh-reviews.yaml) and print its sizes.",
    )
    add_config_arguments(ap)
    ap.add_argument("--write", metavar="DIR", help="also write sentiment.{train,dev,test}.{0,1} to DIR")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, overrides=args.overrides)
    if args.write:
        check_output_folder(args.write, "--write", data_folders(cfg.data))
    stats = ReviewStats()
    if cfg.data.source == "zh_reviews":
        corpus = load_zh_reviews(cfg.data, stats)
    else:
        corpus = load_corpus(cfg.data)
    print(corpus.summary())
    if cfg.data.source == "zh_reviews":
        print(stats.summary())
    if args.write:
        out = Path(args.write)
        try:  # all six or none
            atomic_write_texts(
                {
                    out / f"sentiment.{split}.{s}": "".join(line + "\n" for line in getattr(corpus, split)[s])
                    for split in ("train", "dev", "test")
                    for s in (0, 1)
                }
            )
        except OSError as e:
            raise TextcycleError(f"cannot write {out}: {e.strerror or e}") from None
        print(f"wrote {out}/sentiment.{{train,dev,test}}.{{0,1}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
