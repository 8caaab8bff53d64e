"""Unpaired corpora: two piles of sentences, style 0 and style 1, with train/dev/test splits.

Sources:
- two plain text files per split (`from_text_files`), one sentence per line;
- a folder in the Yelp naming `sentiment.{train,dev,test}.{0,1}` (`from_folder`);
- a `datasets` dataset with a text and a label column (`from_dataset`): local files here,
  a hub name for users online;
- the Yelp data in ../shared/data (`yelp_shared`), whose training split is missing: train is
  built from Shen et al.'s dev+test files minus every Li et al. dev and test sentence,
  deduplicated; Li et al.'s dev is validation and Li et al.'s test is the test set.
- Chinese review folders with neg.txt/pos.txt (`zh_reviews`, in `textcycle.zh`): reviews split
  into sentences, deduplicated, whole reviews held out for dev and test.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from .config import DataConfig
from .errors import TextcycleError
from .textnorm import normalize


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


def read_lines(path: str | Path) -> list[str]:
    """Read a UTF-8 text file, one item per line; a clear error for missing or non-UTF-8 files."""
    p = Path(path)
    if not p.is_file():
        raise TextcycleError(f"file not found: {p}")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TextcycleError(f"{p}: line {line} is not valid UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln.rstrip("\r") for ln in lines]


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
    return [l for i, l in enumerate(lines) if i not in held], [lines[i] for i in sorted(held)]


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
        raise TextcycleError(f"could not load dataset {cfg.path!r}: {str(e).splitlines()[0]}") from None
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
                raise TextcycleError(f"dataset split {split_name!r} has no column {col!r} (columns: {cols})")
        texts, labels = split[cfg.text_column], split[cfg.label_column]
        for s in (0, 1):
            lines = [t for t, l in zip(texts, labels) if int(l) == s and isinstance(t, str)]
            getattr(c, target)[s] = _prepare(lines, cfg, dedup=(target == "train"))
    return _finish(c, cfg)


def yelp_shared(cfg: DataConfig) -> UnpairedCorpus:
    """The Yelp data of ../shared/data: Shen dev+test minus Li dev/test = train; Li dev/test."""
    root = Path(cfg.path)
    li = root / "li2018"
    if not (root / "sentiment.dev.0").is_file() or not li.is_dir():
        raise TextcycleError(
            f"{root} does not look like the shared Yelp folder (needs sentiment.dev.0 and li2018/)"
        )
    c = UnpairedCorpus(style_names=list(cfg.style_names), language=cfg.language)
    stray = {"negative", "neutral", "positive", "very negative", "very positive"}
    for s in (0, 1):
        dev = [l for l in read_lines(li / f"sentiment.dev.{s}") if l.strip().lower() not in stray]
        test = read_lines(li / f"sentiment.test.{s}")
        c.dev[s] = _prepare(dev, cfg, dedup=True)
        c.test[s] = _prepare(test, cfg, dedup=False)
        # exclude Li dev/test sentences of *both* styles from training
        held = {normalize(l, cfg.language) for t in (0, 1) for sp in ("dev", "test")
                for l in read_lines(li / f"sentiment.{sp}.{t}")}
        lines = read_lines(root / f"sentiment.dev.{s}") + read_lines(root / f"sentiment.test.{s}")
        c.train[s] = [l for l in _prepare(lines, cfg, dedup=True) if l not in held]
    return _finish(c, cfg)


def zh_reviews(cfg: DataConfig) -> UnpairedCorpus:
    """Chinese review folders (neg.txt/pos.txt) split into sentences; see `textcycle.zh`."""
    from .zh import load_zh_reviews

    return load_zh_reviews(cfg)


LOADERS = {
    "yelp_shared": yelp_shared,
    "folder": from_folder,
    "text_files": from_text_files,
    "dataset": from_dataset,
    "zh_reviews": zh_reviews,
}


def load_corpus(cfg: DataConfig) -> UnpairedCorpus:
    """Load the unpaired corpus that `cfg.source` names."""
    if cfg.source not in LOADERS:
        raise TextcycleError(f"data.source {cfg.source!r} is not one of {', '.join(LOADERS)}")
    if len(cfg.style_names) != 2:
        raise TextcycleError("data.style_names must name exactly two styles")
    if cfg.zh_convert and cfg.language != "zh":
        raise TextcycleError("data.zh_convert is for Chinese corpora: set data.language: zh")
    return LOADERS[cfg.source](cfg)
