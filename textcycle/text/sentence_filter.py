"""Style-bearing training sentences: keep those that a filter classifier gives to their own label.

Labels of review corpora belong to whole reviews, and PTT tags to how a commenter felt about an
article, so many training sentences carry no style of their own (送餐花了一个半小时, "we ordered
at noon"). A generator trained on them learns that copying is safe. With `data.filter_min_prob`
set, a training sentence is kept when a filter classifier gives its own label at least that
probability (then at most `data.filter_max_per_style` per style, the most confident).

The filter classifier is the fastText-style model of `evaluate.classifier` (its training code,
imported), trained afresh on the training split only; it is never the evaluation classifier,
which stays the ruler. Cross-fitting: each style's training sentences are split in two seeded
halves, a classifier is trained on each half, and every sentence is scored by the classifier of
the *other* half. A classifier scoring its own training sentences has memorised them and would
keep nearly all of them, neutral ones included.

A training run keeps its filter in `<output_dir>/sentence_filter/` (written in one atomic rename):
`kept.json` (the recipe, each sentence's probability, the kept indices), `counts.json`,
`samples.txt` (20 kept and 20 dropped at random) and the two classifiers; a resumed run reuses
`kept.json`, so it trains on the same sentences. On its own:

    python -m textcycle.text.sentence_filter --config configs/zh-reviews.yaml [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from ..cli import entry_point
from ..config import add_config_arguments
from ..errors import TextcycleError
from ..files import atomic_dir
from .config import DataConfig
from .data import UnpairedCorpus

FILTER_DIR = "sentence_filter"
SAMPLES_PER_STYLE = 10  # kept and dropped each: 20 kept and 20 dropped in all
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # the table of `python -m textcycle.text.sentence_filter`


MIN_UPDATES = 300  # a half classifier makes at least this many updates (more epochs on small corpora)


def classifier_config(language: str, labels: list, seed: int, n_train: int):
    """The evaluation classifier's recipe (characters for Chinese) with the corpus's seed; its 3
    epochs suit 100k sentences, so a small half gets more epochs, up to MIN_UPDATES updates."""
    from ..evaluate.classifier import ClassifierConfig

    cfg = ClassifierConfig(
        labels=list(labels), seed=seed, tokenization="zh_chars" if language == "zh" else ClassifierConfig.tokenization
    )
    steps = max(1, math.ceil(n_train / cfg.batch_size))
    return replace(cfg, epochs=max(cfg.epochs, math.ceil(MIN_UPDATES / steps)))


def halves(n: int, seed: int) -> list[int]:
    """A seeded 0/1 half for each of n sentences (as equal as can be)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    half = [0] * n
    for i in order[n // 2 :]:
        half[i] = 1
    return half


def text_sha256(train: list[list[str]]) -> str:
    h = hashlib.sha256()
    for s in (0, 1):
        for line in train[s]:
            h.update(line.encode("utf-8") + b"\n")
        h.update(b"\x00")
    return h.hexdigest()


def score_sentences(train: list[list[str]], language: str, labels: list, seed: int, log=print):
    """Cross-fitted p(own label) for every training sentence, and the two half classifiers.

    Returns (probs, classifiers): probs[s][i] is the probability that the classifier trained on
    the other half gives style s for train[s][i]. The global torch random state is left as it was,
    so a run with the filter initialises its networks as one without."""
    import torch

    from ..evaluate.classifier import train_classifier

    for s in (0, 1):
        if len(train[s]) < 4:
            raise TextcycleError(
                f"the sentence filter needs at least 4 training sentences per style (style {s} has {len(train[s])})"
            )
    cfg = classifier_config(language, labels, seed, (len(train[0]) + len(train[1])) // 2)
    half = [halves(len(train[s]), seed + s) for s in (0, 1)]
    probs = [[0.0] * len(train[s]) for s in (0, 1)]
    classifiers = []
    with torch.random.fork_rng(devices=[]):
        for h in (0, 1):
            t0 = time.time()
            part = [[x for x, k in zip(train[s], half[s]) if k == h] for s in (0, 1)]
            clf = train_classifier(part, cfg, log=lambda m: None)
            classifiers.append(clf)
            for s in (0, 1):
                idx = [i for i, k in enumerate(half[s]) if k != h]
                p = clf.predict_proba([train[s][i] for i in idx], normalized=True)[:, s].tolist()
                for i, v in zip(idx, p):
                    probs[s][i] = v
            log(
                f"sentence filter: classifier {h + 1}/2 trained on {len(part[0]):,} + {len(part[1]):,} "
                f"sentences, scored the other half ({time.time() - t0:.0f}s)"
            )
    return probs, classifiers


def select(probs: list[list[float]], min_prob: float, max_per_style: int | None) -> list[list[int]]:
    """Indices (in corpus order) of the sentences whose p(own label) >= min_prob; with
    max_per_style, only the most confident that many (ties broken by position)."""
    kept = []
    for p in probs:
        idx = [i for i, v in enumerate(p) if v >= min_prob]
        if max_per_style is not None and len(idx) > max_per_style:
            idx = sorted(sorted(idx, key=lambda i: (-p[i], i))[:max_per_style])
        kept.append(idx)
    return kept


def samples_text(train, probs, kept, style_names, seed: int, n: int = SAMPLES_PER_STYLE) -> str:
    """n kept and n dropped sentences per style, drawn with a fixed seed."""
    rng = random.Random(seed)
    lines = []
    for what in ("kept", "dropped"):
        lines.append(f"# {what} (p = the filter's probability of the sentence's own label)")
        for s in (0, 1):
            keep = set(kept[s])
            pool = [i for i in range(len(train[s])) if (i in keep) == (what == "kept")]
            for i in sorted(rng.sample(pool, min(n, len(pool)))):
                lines.append(f"{style_names[s]}\t{probs[s][i]:.3f}\t{train[s][i]}")
    return "\n".join(lines) + "\n"


def counts(train, kept, style_names, min_prob, max_per_style, dev_share=None) -> dict:
    out = {
        "min_prob": min_prob,
        "max_per_style": max_per_style,
        "styles": list(style_names),
        "train": [len(t) for t in train],
        "kept": [len(k) for k in kept],
        "dropped": [len(t) - len(k) for t, k in zip(train, kept)],
        "kept_percent": [round(100.0 * len(k) / max(1, len(t)), 1) for t, k in zip(train, kept)],
    }
    if dev_share is not None:
        out["dev_passing_percent"] = dev_share
    return out


def table(c: dict) -> str:
    rows = [f"{'style':10} {'train':>9} {'kept':>9} {'dropped':>9} {'kept %':>7}"]
    for s, name in enumerate(c["styles"]):
        rows.append(
            f"{name:10} {c['train'][s]:>9,} {c['kept'][s]:>9,} {c['dropped'][s]:>9,} {c['kept_percent'][s]:>7.1f}"
        )
    return "\n".join(rows)


def dev_passing(classifiers, dev, min_prob: float) -> list[float]:
    """Percent of dev sentences per style whose own-label probability (mean of the two half
    classifiers, neither of which saw dev) reaches min_prob: a check on held-out text."""
    out = []
    for s in (0, 1):
        if not dev[s]:
            out.append(float("nan"))
            continue
        p = sum(clf.predict_proba(dev[s], normalized=True)[:, s] for clf in classifiers) / len(classifiers)
        out.append(round(100.0 * float((p >= min_prob).float().mean()), 1))
    return out


def recipe(data: DataConfig, corpus: UnpairedCorpus) -> dict:
    """What the probabilities depend on: the classifier recipe, the seed and the training text."""
    cfg = classifier_config(
        corpus.language, corpus.style_names, data.seed, (len(corpus.train[0]) + len(corpus.train[1])) // 2
    )
    return {"classifier": asdict(cfg), "train_text_sha256": text_sha256(corpus.train)}


def write_filter(folder: Path, data: DataConfig, corpus: UnpairedCorpus, probs, classifiers, kept) -> dict:
    """The filter's folder, written whole or not at all (`files.atomic_dir`)."""
    c = counts(
        corpus.train,
        kept,
        corpus.style_names,
        data.filter_min_prob,
        data.filter_max_per_style,
        dev_passing(classifiers, corpus.dev, data.filter_min_prob),
    )
    with atomic_dir(folder) as tmp:
        record = {
            "recipe": recipe(data, corpus),
            "min_prob": data.filter_min_prob,
            "max_per_style": data.filter_max_per_style,
            "probs": [[round(v, 5) for v in p] for p in probs],
            "kept": kept,
        }
        (tmp / "kept.json").write_text(json.dumps(record) + "\n", encoding="utf-8")
        (tmp / "counts.json").write_text(json.dumps(c, indent=1) + "\n", encoding="utf-8")
        (tmp / "samples.txt").write_text(
            samples_text(corpus.train, probs, kept, corpus.style_names, data.seed), encoding="utf-8"
        )
        for h, clf in enumerate(classifiers):
            clf.save(tmp / f"classifier-{'ab'[h]}")
    return c


def read_record(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "kept.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_classifiers(folder: Path) -> list:
    """The two half classifiers saved in a filter folder, or [] when one is missing or corrupt."""
    from ..evaluate.classifier import StyleClassifier

    try:
        return [StyleClassifier.load(folder / f"classifier-{h}") for h in "ab"]
    except TextcycleError:
        return []


def prepare_filter(data: DataConfig, corpus: UnpairedCorpus, folder: Path, log=print) -> list[list[int]]:
    """The kept indices for this corpus and these settings: from `folder` when it holds them
    (a resumed run), re-selected from its probabilities when only the threshold changed, else
    computed and saved."""
    old = read_record(folder)
    same_scores = bool(old) and old.get("recipe") == recipe(data, corpus)
    if same_scores and (old.get("min_prob"), old.get("max_per_style")) == (
        data.filter_min_prob,
        data.filter_max_per_style,
    ):
        log(f"sentence filter: reusing {folder / 'kept.json'}")
        return old["kept"]
    classifiers = load_classifiers(folder) if same_scores else []
    if classifiers:
        probs = old["probs"]
    else:
        probs, classifiers = score_sentences(corpus.train, corpus.language, corpus.style_names, data.seed, log)
    kept = select(probs, data.filter_min_prob, data.filter_max_per_style)
    write_filter(folder, data, corpus, probs, classifiers, kept)
    return kept


def apply_kept(corpus: UnpairedCorpus, kept: list[list[int]]) -> UnpairedCorpus:
    """The corpus with only the kept training sentences (dev and test unchanged)."""
    for s in (0, 1):
        if not kept[s]:
            raise TextcycleError(
                f"the sentence filter kept no {corpus.style_names[s]} training sentence: lower data.filter_min_prob"
            )
    return replace(corpus, train=[[corpus.train[s][i] for i in kept[s]] for s in (0, 1)])


def filtered_corpus(data: DataConfig, corpus: UnpairedCorpus, out_dir: Path, log=print) -> UnpairedCorpus:
    """The corpus with only its style-bearing training sentences, the filter computed (or
    reused) in `out_dir/sentence_filter`; as it is without `data.filter_min_prob`."""
    if data.filter_min_prob is None:
        return corpus
    folder = Path(out_dir) / FILTER_DIR
    kept = prepare_filter(data, corpus, folder, log=log)
    c = json.loads((folder / "counts.json").read_text(encoding="utf-8"))
    log(
        f"sentence filter (p >= {data.filter_min_prob}): kept\n{table(c)}\n(counts, samples and classifiers in {folder})"
    )
    return apply_kept(corpus, kept)


def filter_for_run(data: DataConfig, corpus: UnpairedCorpus, out_dir: Path, accelerator) -> UnpairedCorpus:
    """Training's hook: the main process computes (or reuses) the filter in the run folder, every
    process then trains on the same kept sentences."""
    folder = Path(out_dir) / FILTER_DIR
    if accelerator.is_main_process:
        filtered_corpus(data, corpus, out_dir, log=accelerator.print)
    accelerator.wait_for_everyone()
    record = read_record(folder)
    if record is None:
        raise TextcycleError(f"{folder / 'kept.json'} is missing or corrupt")
    return apply_kept(corpus, record["kept"])


# ---------------------------------------------------------------- python -m textcycle.text.sentence_filter


@entry_point
def main(argv: list[str] | None = None) -> int:
    from ..config import load_config
    from .config import TextCycleConfig, validate_text_config
    from .data import load_corpus

    ap = argparse.ArgumentParser(
        prog="python -m textcycle.text.sentence_filter",
        description="Run the training-sentence filter of a config alone: kept and dropped "
        "sentences per style, and 20 + 20 samples.",
    )
    add_config_arguments(ap)
    ap.add_argument("--min-prob", type=float, help="threshold (default: the config's data.filter_min_prob)")
    ap.add_argument(
        "--out",
        metavar="DIR",
        help="also write the filter folder (kept.json, counts.json, samples.txt, the classifiers) to DIR",
    )
    args = ap.parse_args(argv)
    overrides = list(args.overrides) + ([f"data.filter_min_prob={args.min_prob}"] if args.min_prob is not None else [])
    cfg = validate_text_config(load_config(args.config, TextCycleConfig, overrides))
    data = cfg.data
    if data.filter_min_prob is None:
        raise TextcycleError("no threshold: set data.filter_min_prob in the config, or give --min-prob")
    corpus = load_corpus(data)
    probs, classifiers = score_sentences(corpus.train, corpus.language, corpus.style_names, data.seed)
    print("\nkept % of training sentences (and of dev sentences) per threshold:")
    print(f"{'p >=':>6} " + " ".join(f"{n + ' train':>16} {n + ' dev':>14}" for n in corpus.style_names))
    for t in sorted(set(THRESHOLDS) | {data.filter_min_prob}):
        k = select(probs, t, None)
        dev = dev_passing(classifiers, corpus.dev, t)
        print(f"{t:>6.2f} " + " ".join(f"{100.0 * len(k[s]) / len(probs[s]):>16.1f} {dev[s]:>14.1f}" for s in (0, 1)))
    kept = select(probs, data.filter_min_prob, data.filter_max_per_style)
    c = counts(corpus.train, kept, corpus.style_names, data.filter_min_prob, data.filter_max_per_style)
    print(
        f"\nwith p >= {data.filter_min_prob}"
        + (f", at most {data.filter_max_per_style} per style" if data.filter_max_per_style else "")
        + ":"
    )
    print(table(c))
    print()
    print(samples_text(corpus.train, probs, kept, corpus.style_names, data.seed), end="")
    if args.out:
        write_filter(Path(args.out), data, corpus, probs, classifiers, kept)
        print(f"wrote {args.out}/kept.json, counts.json, samples.txt, classifier-a/, classifier-b/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
