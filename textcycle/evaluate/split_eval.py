"""Score a model on any corpus config's own test split, where no human rewrites exist.

    python -m textcycle.evaluate.split_eval --config configs/zh-reviews.yaml \
        --model runs/zh-reviews/best --out results/ours/textcycle-zh \
        --classifier textcycle/pretrained/zh-eval/classifier --lm textcycle/pretrained/zh-eval/lm

Without references the content figure is self-BLEU (BLEU against the source; sacrebleu's `zh`
tokenizer for Chinese, the Yelp normal form otherwise), next to style accuracy from the
evaluation classifier (trained on the train split only, never the training discriminator),
perplexity under the evaluation LM, and G = sqrt(ACC x self-BLEU). Copying the input is scored in
the same run as the floor: its self-BLEU is 100 and its accuracy is the classifier's error rate.
Rewrites are written in corpus form to `--out` (`neg2pos.txt`, `pos2neg.txt`: style 0 -> 1 and
1 -> 0, aligned with the test split), with `scores.json` and `samples.md`.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

from ..errors import TextcycleError
from .bleu import bleu_normalize, corpus_bleu, g_score

KEYS = ("style_accuracy", "self_bleu", "perplexity", "g_self")
DIRECTIONS = ("neg2pos", "pos2neg")  # style 0 -> 1, style 1 -> 0 (the published systems' file names)


def self_bleu(hyps: list[str], sources: list[str], language: str) -> float:
    if language == "zh":
        from ..zh import zh_bleu

        return zh_bleu(hyps, sources)
    return corpus_bleu([bleu_normalize(h) for h in hyps], [[bleu_normalize(s) for s in sources]])


def score_outputs(sources: list[list[str]], outputs: list[list[str]], classifier, lm=None,
                  language: str = "en", name: str = "system") -> dict:
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
        res[d] = {"style_accuracy": acc, "self_bleu": sb, "perplexity": ppl, "g_self": g_score(acc, sb),
                  "n": len(pred)}
    acc = 100.0 * correct / max(1, total)
    sb = (res["neg2pos"]["self_bleu"] + res["pos2neg"]["self_bleu"]) / 2
    res.update(style_accuracy=acc, self_bleu=sb, perplexity=math.exp(nll / ntok) if ntok else None,
               g_self=g_score(acc, sb), n=total)
    r = lambda x: None if x is None else round(x, 2)  # noqa: E731
    out = {"name": name, **{k: r(res[k]) for k in KEYS}, "n": total}
    for d in DIRECTIONS:
        out[d] = {**{k: r(res[d][k]) for k in KEYS}, "n": res[d]["n"]}
    return out


def scores_table(rows: list[dict], style_names=("negative", "positive")) -> str:
    a, b = style_names
    head = ["system", "direction", "ACC", "self-BLEU", "PPL", "G (ACC, self-BLEU)"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        for label, d in ((f"{a} -> {b}", r["neg2pos"]), (f"{b} -> {a}", r["pos2neg"]), ("**both**", r)):
            vals = ["–" if d[k] is None else f"{d[k]:.1f}" for k in KEYS]
            lines.append(f"| {r['name']} | {label} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def samples_table(sources, outputs, style_names, n: int = 20, seed: int = 0, language: str = "en") -> str:
    """`n` rewrites per direction, a fixed random draw (good and bad alike)."""
    from ..textnorm import denormalize

    rng = random.Random(seed)
    lines = []
    for s in (0, 1):
        lines += [f"**{style_names[s]} -> {style_names[1 - s]}**", "", "| source | rewrite |", "|---|---|"]
        for i in sorted(rng.sample(range(len(sources[s])), min(n, len(sources[s])))):
            cells = [denormalize(x, language).replace("|", "\\|") for x in (sources[s][i], outputs[s][i])]
            lines.append(f"| {cells[0]} | {cells[1]} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def rewrite_test_split(model_path: str | Path, sources: list[list[str]], batch_size: int = 64,
                       rerank: int = 1, seed: int = 0) -> list[list[str]]:
    """Rewrites (greedy, or reward-reranked with `rerank` > 1) of each style's test sentences
    into the other style, in corpus form."""
    import torch

    from ..rewrite import Rewriter

    torch.manual_seed(seed)
    rw = Rewriter.from_pretrained(model_path)
    return [rw.rewrite(sources[s], to=1 - s, corpus_form=True, batch_size=batch_size, rerank=rerank)
            for s in (0, 1)]


def evaluate_model(config: str, model: str, out: str | Path, classifier: str, lm: str | None = None,
                   samples: int = 20, log=print, rerank: int = 1) -> dict:
    """Rewrite the config's test split with `model`, score it beside copy-input, write files."""
    from ..config import TextCycleConfig, load_config
    from ..corpus import load_corpus
    from .classifier import StyleClassifier
    from .lm import LanguageModel

    cfg = load_config(config, TextCycleConfig)
    corpus = load_corpus(cfg.data)
    sources = [list(corpus.test[0]), list(corpus.test[1])]
    if not sources[0] or not sources[1]:
        raise TextcycleError(f"{config}: the corpus has no test split for both styles")
    clf = StyleClassifier.load(classifier)
    lmodel = LanguageModel.load(lm) if lm else None
    log(f"rewriting {len(sources[0])} + {len(sources[1])} test sentences with {model}")
    outputs = rewrite_test_split(model, sources, rerank=rerank)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for s, d in enumerate(DIRECTIONS):
        (out / f"{d}.txt").write_text("\n".join(outputs[s]) + "\n", encoding="utf-8")
    lang = cfg.data.language
    name = "textcycle" if rerank == 1 else f"textcycle (rerank {rerank})"
    ours = score_outputs(sources, outputs, clf, lmodel, lang, name=name)
    copy = score_outputs(sources, sources, clf, lmodel, lang, name="copy input")
    result = {"config": str(config), "model": str(model), "classifier": str(classifier), "lm": lm, "rerank": rerank,
              "style_names": list(corpus.style_names), "ours": ours, "copy_input": copy}
    (out / "scores.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "samples.md").write_text(samples_table(sources, outputs, corpus.style_names, samples, language=lang),
                                    encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m textcycle.evaluate.split_eval",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="the training config (its data section names the corpus)")
    ap.add_argument("--model", required=True, help="model folder (e.g. runs/zh-reviews/best) or bundled name")
    ap.add_argument("--out", required=True, help="folder for neg2pos.txt, pos2neg.txt, scores.json, samples.md")
    ap.add_argument("--classifier", required=True, help="evaluation classifier folder for this corpus")
    ap.add_argument("--lm", default=None, help="evaluation LM folder for this corpus (perplexity)")
    ap.add_argument("--samples", type=int, default=20, help="sample rewrites per direction (default 20)")
    ap.add_argument("--rerank", type=int, default=1, metavar="N",
                    help="decode as `rewrite --rerank N` (best of greedy + N-1 samples; default 1: greedy)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(max(1, args.threads))
        res = evaluate_model(args.config, args.model, args.out, args.classifier, args.lm, args.samples,
                             log=lambda m: print(m, file=sys.stderr, flush=True), rerank=args.rerank)
    except TextcycleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(scores_table([res["copy_input"], res["ours"]], res["style_names"]))
    print(f"\nwrote {args.out}/{{neg2pos.txt,pos2neg.txt,scores.json,samples.md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
