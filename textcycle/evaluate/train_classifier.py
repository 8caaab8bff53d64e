"""Train the evaluation style classifier on the Yelp training split and report its accuracy.

    python -m textcycle.evaluate.train_classifier --data ../shared/data/yelp \
        --out textcycle/pretrained/yelp-eval/classifier

Training data: `load_corpus(DataConfig(path=--data)).train` only (Shen et al. dev+test minus
every Li et al. dev/test sentence). The Li test sources and the human references are used only
to report the classifier's own accuracy, after training, with the fp16 weights as saved.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ..cli import entry_point, thread_count
from ..text.config import DataConfig
from ..text.data import load_corpus
from .classifier import ClassifierConfig, StyleClassifier, train_classifier
from .paths import DEFAULT_CLASSIFIER, DEFAULT_DATA
from .testset import YelpTestSet, load_testset


def classifier_report(clf: StyleClassifier, ts: YelpTestSet, dev: list | None = None) -> dict:
    """The classifier's own accuracy (percent) on sources and human references.

    Sources should get their own style; a reference of a style-s source is a rewrite into
    style 1 - s and should get that label.
    """

    def both(texts0, texts1, lab0, lab1, normalized=False):
        a0 = clf.accuracy(texts0, lab0, normalized)
        a1 = clf.accuracy(texts1, lab1, normalized)
        n0, n1 = len(texts0), len(texts1)
        return {"neg": round(a0, 2), "pos": round(a1, 2), "all": round((a0 * n0 + a1 * n1) / (n0 + n1), 2)}

    rep = {
        "li_test_sources": both(ts.sources[0], ts.sources[1], 0, 1),
        # "neg" = references of the negative sources (should be positive), and vice versa
        "li_reference": both(ts.li_refs[0], ts.li_refs[1], 1, 0),
    }
    for k in range(4):
        rep[f"references4_reference{k}"] = both(ts.refs4[0][k], ts.refs4[1][k], 1, 0)
    all0 = [r for k in range(4) for r in ts.refs4[0][k]]
    all1 = [r for k in range(4) for r in ts.refs4[1][k]]
    rep["references4_all"] = both(all0, all1, 1, 0)
    if dev:
        rep["li_dev"] = both(dev[0], dev[1], 0, 1, normalized=True)
    return rep


def train_for_config(args) -> int:
    """A classifier for any corpus config (e.g. Chinese reviews): train split only, dev for
    model selection, test for the reported accuracy."""
    from ..config import load_config
    from ..text.config import TextCycleConfig

    t0 = time.time()
    data = load_config(args.config, TextCycleConfig).data
    if args.max_train_per_style:
        data.max_train_per_style = args.max_train_per_style
    corpus = load_corpus(data)
    cfg = ClassifierConfig(
        dim=args.dim,
        buckets=args.buckets,
        epochs=args.epochs,
        lr=args.lr,
        seed=args.seed,
        labels=list(corpus.style_names),
        tokenization="zh_chars" if data.language == "zh" else ClassifierConfig.tokenization,
    )
    print(corpus.summary(), flush=True)
    clf = train_classifier(corpus.train, cfg, dev=corpus.dev, log=lambda m: print(m, flush=True))
    clf.save(args.out)
    clf = StyleClassifier.load(args.out)
    metrics = {
        split: {"neg": round(clf.accuracy(sents[0], 0, True), 2), "pos": round(clf.accuracy(sents[1], 1, True), 2)}
        for split, sents in (("dev", corpus.dev), ("test", corpus.test))
        if sents[0] and sents[1]
    }
    metrics["training"] = {
        "config": args.config,
        "train_sentences": [len(corpus.train[0]), len(corpus.train[1])],
        "seconds": round(time.time() - t0, 1),
    }
    clf.save(args.out, metrics)
    print(json.dumps(metrics, indent=1))
    return 0


@entry_point
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA, help="Yelp data folder (default %(default)s)")
    ap.add_argument("--out", default=str(DEFAULT_CLASSIFIER), help="output folder (default: the bundled one)")
    ap.add_argument("--epochs", type=int, default=ClassifierConfig.epochs)
    ap.add_argument("--dim", type=int, default=ClassifierConfig.dim)
    ap.add_argument("--buckets", type=int, default=ClassifierConfig.buckets)
    ap.add_argument("--lr", type=float, default=ClassifierConfig.lr)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=thread_count, default=1, help="torch threads (default 1)")
    ap.add_argument("--max-train-per-style", type=int, default=None, help="cap for quick runs")
    ap.add_argument(
        "--config",
        help="train on the corpus of a training config instead of Yelp (e.g. "
        "configs/zh-reviews.yaml; Chinese gets character features); reports "
        "accuracy on that corpus's dev and test splits",
    )
    ap.add_argument(
        "--report-only", action="store_true", help="do not train: print the accuracies of the classifier in --out"
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    if args.config:
        return train_for_config(args)
    if args.report_only:
        clf = StyleClassifier.load(args.out)
        print(json.dumps(classifier_report(clf, load_testset(args.data)), indent=1))
        return 0
    t0 = time.time()
    corpus = load_corpus(DataConfig(path=args.data, max_train_per_style=args.max_train_per_style))
    ts = load_testset(args.data)
    print(f"training sentences: {len(corpus.train[0]):,} negative, {len(corpus.train[1]):,} positive", flush=True)
    cfg = ClassifierConfig(dim=args.dim, buckets=args.buckets, epochs=args.epochs, lr=args.lr, seed=args.seed)
    clf = train_classifier(corpus.train, cfg, dev=corpus.dev, log=lambda m: print(m, flush=True))
    clf.save(args.out)
    clf = StyleClassifier.load(args.out)  # report what was saved (fp16 weights)
    metrics = classifier_report(clf, ts, corpus.dev)
    metrics["training"] = {
        "data": str(args.data),
        "train_sentences": [len(corpus.train[0]), len(corpus.train[1])],
        "seconds": round(time.time() - t0, 1),
        "torch_threads": torch.get_num_threads(),
    }
    clf.save(args.out, metrics)
    print(json.dumps(metrics, indent=1))
    size = sum(f.stat().st_size for f in Path(args.out).iterdir())
    print(f"saved to {args.out} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
