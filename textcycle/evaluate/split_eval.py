"""Score rewrites of any corpus config's own test split, where no human rewrites exist.

    python -m textcycle.evaluate.split_eval --config configs/zh-reviews.yaml \
        --outputs results/ours/textcycle-zh \
        --classifier textcycle/pretrained/zh-eval/classifier --lm textcycle/pretrained/zh-eval/lm

The outputs come from `python -m textcycle.text.bundle RUN --config ... --outputs DIR` (which rewrites
the split and then calls this scorer); the ruler itself never runs a model.

Without references the content figure is self-BLEU (BLEU against the source; sacrebleu's `zh`
tokenizer for Chinese, the Yelp normal form otherwise), next to style accuracy from the
evaluation classifier (trained on the train split only, never the training discriminator),
perplexity under the evaluation LM, and G = sqrt(ACC x self-BLEU). Copying the input is scored in
the same run as the floor: its self-BLEU is 100 and its accuracy is the classifier's error rate.
The same figures are given for the *clear* subset too: the sources the evaluation classifier
assigns to their own label with p >= 0.9 (a review's neutral sentences carry its label but no
style of their own, and copying them scores as a failure).
The outputs folder holds rewrites in corpus form (`neg2pos.txt`, `pos2neg.txt`: style 0 -> 1 and
1 -> 0, aligned with the test split); `scores.json` and `samples.md` are written beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..cli import entry_point, thread_count
from ..errors import TextcycleError
from ..files import atomic_write_text, read_lines
from .bleu import g_score, self_bleu
from .report import MARKS, rewrites_table, samples_table, scores_table
from .testset import DIRECTIONS, check_lines

KEYS = ("style_accuracy", "self_bleu", "perplexity", "g_self")


def score_outputs(
    sources: list[list[str]], outputs: list[list[str]], classifier, lm=None, language: str = "en", name: str = "system"
) -> dict:
    """Metrics of `outputs[s]` (rewrites of `sources[s]` into style 1 - s), per direction and
    averaged over the two directions (accuracy and perplexity pooled over all sentences)."""
    res: dict = {"name": name}
    correct = total = 0
    nll = ntok = 0.0
    for s, d in enumerate(DIRECTIONS):
        if len(outputs[s]) != len(sources[s]):
            raise TextcycleError(f"{name}/{d}: {len(outputs[s])} outputs for {len(sources[s])} sources")
        pred = classifier.predict(outputs[s])
        ok = sum(p == 1 - s for p in pred)
        correct, total = correct + ok, total + len(pred)
        acc = 100.0 * ok / max(1, len(pred))
        sb = self_bleu(outputs[s], sources[s], language)
        ppl = None
        if lm is not None:
            pairs = lm.nll(outputs[s], normalized=True)
            a, c = sum(x for x, _ in pairs), sum(n for _, n in pairs)
            nll, ntok = nll + a, ntok + c
            ppl = math.exp(a / c) if c else None
        res[d] = {"style_accuracy": acc, "self_bleu": sb, "perplexity": ppl, "g_self": g_score(acc, sb), "n": len(pred)}
    acc = 100.0 * correct / max(1, total)
    sb = (res["neg2pos"]["self_bleu"] + res["pos2neg"]["self_bleu"]) / 2
    res.update(
        style_accuracy=acc,
        self_bleu=sb,
        perplexity=math.exp(nll / ntok) if ntok else None,
        g_self=g_score(acc, sb),
        n=total,
    )
    r = lambda x: None if x is None else round(x, 2)  # noqa: E731
    out = {"name": name, **{k: r(res[k]) for k in KEYS}, "n": total}
    for d in DIRECTIONS:
        out[d] = {**{k: r(res[d][k]) for k in KEYS}, "n": res[d]["n"]}
    return out


SELF_FIELDS = (
    ("style_accuracy", "ACC"),
    ("self_bleu", "self-BLEU"),
    ("perplexity", "PPL"),
    ("g_self", "G (ACC, self-BLEU)"),
)


CLEAR_MIN_PROB = 0.9


def clear_subset(sources: list[list[str]], classifier, min_prob: float = CLEAR_MIN_PROB) -> list[list[int]]:
    """Per style s, the indices of the sources the evaluation classifier gives their own label
    with p >= min_prob: sentences that carry their style, so a rewrite has a style to change
    (a review's neutral sentences, under its label, do not)."""
    out = []
    for s in (0, 1):
        probs = classifier.predict_proba(sources[s])[:, s].tolist() if sources[s] else []
        out.append([i for i, p in enumerate(probs) if p >= min_prob])
    return out


def clearest(sources: list[list[str]], classifier, n: int) -> list[list[int]]:
    """Per style s, the indices of the `n` sources the evaluation classifier is surest carry
    style s, surest first: the comments to read by eye when few reach the clear subset's bar."""
    out = []
    for s in (0, 1):
        probs = classifier.predict_proba(sources[s])[:, s].tolist() if sources[s] else []
        out.append(sorted(range(len(probs)), key=lambda i: -probs[i])[:n])
    return out


def test_split(config: str | Path):
    """(the config, its corpus, the test sources per style) for a config with a test split."""
    from ..text.data import load_corpus
    from ..text.lm_config import load_text_config

    cfg = load_text_config(config)
    corpus = load_corpus(cfg.data)
    sources = [list(corpus.test[0]), list(corpus.test[1])]
    if not sources[0] or not sources[1]:
        raise TextcycleError(f"{config}: the corpus has no test split for both styles")
    return cfg, corpus, sources


def read_outputs(folder: str | Path, sources: list[list[str]]) -> list[list[str]]:
    """`neg2pos.txt` and `pos2neg.txt` of a folder, one line per test sentence."""
    out = []
    for s, d in enumerate(DIRECTIONS):
        f = Path(folder) / f"{d}.txt"
        out.append(check_lines(read_lines(f), f, len(sources[s])))
    return out


def evaluate_outputs(
    config: str,
    outputs_dir: str | Path,
    classifier: str,
    lm: str | None = None,
    samples: int = 20,
    name: str = "textcycle",
    marking: int = 0,
) -> dict:
    """Score the rewrites in `outputs_dir` beside copy-input; write scores.json and samples.md
    there, and with `marking` N, marking.md: the N clearest sources per style to mark by eye."""
    from .classifier import StyleClassifier
    from .lm import LanguageModel

    cfg, corpus, sources = test_split(config)
    outputs = read_outputs(outputs_dir, sources)
    clf = StyleClassifier.load(classifier)
    lmodel = LanguageModel.load(lm) if lm else None
    lang = cfg.data.language
    ours = score_outputs(sources, outputs, clf, lmodel, lang, name=name)
    copy = score_outputs(sources, sources, clf, lmodel, lang, name="copy input")
    keep = clear_subset(sources, clf)
    clear = {"min_prob": CLEAR_MIN_PROB, "n": [len(k) for k in keep], "ours": None, "copy_input": None}
    if all(keep):
        sub = [[xs[i] for i in k] for xs, k in zip(sources, keep)]
        sub_out = [[xs[i] for i in k] for xs, k in zip(outputs, keep)]
        clear["ours"] = score_outputs(sub, sub_out, clf, lmodel, lang, name=name)
        clear["copy_input"] = score_outputs(sub, sub, clf, lmodel, lang, name="copy input")
    result = {
        "config": str(config),
        "outputs": str(outputs_dir),
        "classifier": str(classifier),
        "lm": lm,
        "style_names": list(corpus.style_names),
        "ours": ours,
        "copy_input": copy,
        "clear": clear,
    }
    out = Path(outputs_dir)
    atomic_write_text(out / "scores.json", json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    atomic_write_text(out / "samples.md", samples_table(sources, outputs, corpus.style_names, samples, language=lang))
    if marking:
        picked = clearest(sources, clf, marking)
        sheet = rewrites_table(sources, outputs, corpus.style_names, picked, lang, MARKS)
        atomic_write_text(out / "marking.md", sheet)
    return result


def clear_table(result: dict) -> str:
    """The clear subset's size and scores, as a Markdown table under one line of explanation."""
    c = result["clear"]
    a, b = result["style_names"]
    head = (
        f"Clear subset: test sources the evaluation classifier gives their own label with p >= {c['min_prob']:g} "
        f"({c['n'][0]} {a}, {c['n'][1]} {b})."
    )
    if c["ours"] is None:
        return head + " One style has none, so there is no table."
    return head + "\n\n" + scores_table([c["copy_input"], c["ours"]], SELF_FIELDS, result["style_names"])


@entry_point
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m textcycle.evaluate.split_eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="the training config (its data section names the corpus)")
    ap.add_argument(
        "--outputs",
        required=True,
        help="folder with neg2pos.txt and pos2neg.txt (scores.json and samples.md are written there)",
    )
    ap.add_argument("--classifier", required=True, help="evaluation classifier folder for this corpus")
    ap.add_argument("--lm", default=None, help="evaluation LM folder for this corpus (perplexity)")
    ap.add_argument("--samples", type=int, default=20, help="sample rewrites per direction (default 20)")
    ap.add_argument("--name", default="textcycle", help="the system's name in the table")
    ap.add_argument(
        "--marking",
        type=int,
        default=0,
        metavar="N",
        help="also write marking.md: the N clearest test sources per style and their rewrites, to mark by eye",
    )
    ap.add_argument("--threads", type=thread_count, default=2)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(max(1, args.threads))
    res = evaluate_outputs(args.config, args.outputs, args.classifier, args.lm, args.samples, args.name, args.marking)
    print(scores_table([res["copy_input"], res["ours"]], SELF_FIELDS, res["style_names"]))
    print("\n" + clear_table(res))
    print(f"\nwrote {args.outputs}/{{scores.json,samples.md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
