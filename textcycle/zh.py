"""Chinese corpora: review folders split into sentences, and BLEU for Chinese.

The SophonPlus review corpora (../shared/data/{online_shopping_10_cats,waimai_10k,
chnsenticorp_htl_all}) hold one *review* per line in `neg.txt` / `pos.txt`, often several
sentences long. `load_zh_reviews` (data.source "zh_reviews") normalises each review
(`textnorm.zh_normalize`, with the optional OpenCC conversion `data.zh_convert`), splits it into
sentences (`split_sentences`), keeps sentences of `data.min_chars`..`data.max_chars` characters,
and gives every sentence the label of its review. Then:

- duplicates are dropped (first occurrence wins), and a sentence that occurs under both labels
  ("还行", "送餐很快") is dropped from both, since its label says nothing;
- whole reviews are held out for test and dev (`test_fraction`/`max_test_per_style`,
  `dev_fraction`/`max_dev_per_style`), so no review has sentences in two splits;
- the training sentences are shuffled (seeded), so `max_train_per_style` takes a mix of folders.

`python -m textcycle.zh --config configs/zh-reviews.yaml` prints the split sizes (and with
`--write DIR` writes `sentiment.{train,dev,test}.{0,1}` for the "folder" loader).

`zh_bleu` / `zh_sentence_bleu` score Chinese with sacrebleu's `tokenize="zh"` (one token per CJK
character, Latin words kept whole), after an optional OpenCC conversion of both sides.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from .config import DataConfig
from .errors import TextcycleError
from .textnorm import denormalize, zh_convert, zh_normalize

# sentence ends: 。！？!? ；; and ellipses, with closing quotes/brackets kept on the sentence
_END = "。！？!?；;…"
_SENTENCE = re.compile(rf"[^{_END}\n]*(?:[{_END}]+[”’」』）)\]》〉\"']*|\n|$)")
_CLAUSE = re.compile(r"[^，,、]*(?:[，,、]+|$)")
_LEAD = re.compile(r"^[\s，,、：:；;。.！!？?…~）)」』”’]+")
_TRAIL_COMMA = re.compile(r"[\s，,、：:]+$")
_CONTENT = re.compile(r"[^\W_]")  # a letter, digit or CJK character
_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)


def strip_urls(text: str) -> str:
    """Remove web addresses (http://..., https://..., www....)."""
    return _URL.sub(" ", text)


def _chunk(piece: str, max_chars: int) -> list[str]:
    """Cut an over-long sentence at commas into pieces of at most `max_chars` (where possible)."""
    clauses = [c for c in _CLAUSE.findall(piece) if c]
    out, cur = [], ""
    for c in clauses:
        if cur and len(cur) + len(c.rstrip("，,、")) > max_chars:
            out.append(cur)
            cur = ""
        cur += c
    if cur:
        out.append(cur)
    return [_TRAIL_COMMA.sub("", p) for p in out]


def split_sentences(text: str, max_chars: Optional[int] = None) -> list[str]:
    """Split Chinese text into sentences at 。！？!?；; … and line breaks.

    End marks (and closing quotes after them) stay with their sentence: "太慢了！下次不点了。"
    -> ["太慢了！", "下次不点了。"]. Pieces without a letter, digit or CJK character are dropped.
    With `max_chars`, a longer sentence is cut at commas (，,、) into pieces of at most that many
    characters (a single clause longer than that stays whole, for the length filter to drop).
    Call it on normalised text (`zh_normalize` turns "好." into "好。" and "..." into "……").
    """
    out = []
    for m in _SENTENCE.finditer(text):
        piece = _LEAD.sub("", m.group().strip())
        if not piece:
            continue
        pieces = _chunk(piece, max_chars) if max_chars and len(piece) > max_chars else [piece]
        out.extend(p for p in (q.strip() for q in pieces) if p and _CONTENT.search(p))
    return out


def review_to_sentences(text: str, convert: Optional[str] = None, max_chars: Optional[int] = None) -> list[str]:
    """Raw review text -> sentences: split at line breaks, drop URLs, `zh_normalize`, split."""
    out = []
    for line in text.splitlines():
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
    from .corpus import read_lines

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
    from .corpus import UnpairedCorpus, _finish

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


# ---------------------------------------------------------------------------------------------
# BLEU for Chinese


def _streams(references, n: int) -> list[list[Optional[str]]]:
    """One reference per hypothesis, or a list of references per hypothesis -> sacrebleu streams."""
    if len(references) != n:
        raise TextcycleError(f"{n} hypotheses but {len(references)} references")
    per_hyp = [[r] if isinstance(r, str) else list(r) for r in references]
    k = max((len(r) for r in per_hyp), default=1)
    if k == 0:
        raise TextcycleError("no references given")
    return [[r[j] if j < len(r) else None for r in per_hyp] for j in range(k)]


def _prep(text: Optional[str], convert: Optional[str]) -> Optional[str]:
    if text is None:
        return None
    return zh_convert(denormalize(text, "zh"), convert)


def zh_bleu(hypotheses: Sequence[str], references: Sequence, convert: Optional[str] = None) -> float:
    """Corpus BLEU (0-100) for Chinese, sacrebleu `tokenize="zh"`.

    `references`: one string per hypothesis, or a list of strings per hypothesis (any number).
    `convert`: an OpenCC conversion applied to both sides first (e.g. "t2s" when a Traditional
    system is scored against Simplified references). Spaces next to CJK characters are ignored.
    """
    import sacrebleu

    hyps = [_prep(h, convert) for h in hypotheses]
    streams = [[_prep(r, convert) for r in stream] for stream in _streams(references, len(hyps))]
    return sacrebleu.corpus_bleu(hyps, streams, tokenize="zh").score


def zh_sentence_bleu(hypothesis: str, references, convert: Optional[str] = None) -> float:
    """Sentence BLEU (0-100, smoothed as sacrebleu's default) for one Chinese hypothesis."""
    import sacrebleu

    refs = [references] if isinstance(references, str) else list(references)
    return sacrebleu.sentence_bleu(
        _prep(hypothesis, convert), [_prep(r, convert) for r in refs], tokenize="zh"
    ).score


# ---------------------------------------------------------------------------------------------
# python -m textcycle.zh: sizes of the sentence corpus a config makes


def main(argv: list[str] | None = None) -> int:
    from .config import load_config

    ap = argparse.ArgumentParser(
        prog="python -m textcycle.zh",
        description="Load a Chinese corpus config (e.g. configs/zh-reviews.yaml) and print its sizes.",
    )
    ap.add_argument("--config", required=True)
    ap.add_argument("-o", "--override", action="append", default=[], help="key=value, e.g. data.zh_convert=s2tw")
    ap.add_argument("--write", metavar="DIR", help="also write sentiment.{train,dev,test}.{0,1} to DIR")
    args = ap.parse_args(argv)
    try:
        from .corpus import load_corpus

        cfg = load_config(args.config, overrides=args.override)
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
            out.mkdir(parents=True, exist_ok=True)
            for split in ("train", "dev", "test"):
                for s in (0, 1):
                    lines = getattr(corpus, split)[s]
                    (out / f"sentiment.{split}.{s}").write_text(
                        "".join(l + "\n" for l in lines), encoding="utf-8"
                    )
            print(f"wrote {out}/sentiment.{{train,dev,test}}.{{0,1}}")
    except TextcycleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
