"""Decoding choices of an LM model on the Li et al. dev set (never test): style guidance at
several strengths, the "least guidance" ladder, and the Rewriter's greedy with and without its
style fallback. Dev ACC from the evaluation classifier, self-BLEU against the source, G.

    python bench/bench_lm_decoding.py --model yelp --guidance 1.15 1.3 1.5 --sentences 200

Rows:
- `guidance g` (torch, `LMGenerators.generate(guidance=g)`): greedy on log p(. | to t) +
  (g - 1) (log p(. | to t) - log p(. | to s)); g = 1 is plain greedy;
- `ladder`: per sentence the least guidance (of 1 and the given strengths, in order) whose
  rewrite the small Yelp model's discriminator puts in the target style (p >= 0.5), else the
  strongest; what the guided self-training rounds (`train.selftrain_guidance`) select;
- `Rewriter` (CTranslate2, the shipped path): greedy, and greedy with the style fallback, for the
  model and `--also` models; for the model also the fallback at each `--in-style` threshold and
  `--repair-beam` width (the Rewriter's IN_STYLE and REPAIR_BEAM, set here for the sweep);
- `fluency repair N` (a pilot, not in the Rewriter): the default rewrite, except where it reads
  more than N nats per token worse than its source under the pretrained base; there the most
  fluent of a 4-beam's rewrites of the natural source that the model's discriminator reads in
  the target style and that is within N, if any (the beam row skips the keep rules).
The sources are the dev sentences in natural form, as `lm_train` evaluates them.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import textcycle.rewriter as rewriter_module  # noqa: E402
from textcycle.evaluate.bleu import self_bleu  # noqa: E402
from textcycle.evaluate.classifier import StyleClassifier  # noqa: E402
from textcycle.evaluate.paths import DEFAULT_CLASSIFIER  # noqa: E402
from textcycle.evaluate.pretrained_lm import PretrainedLM  # noqa: E402
from textcycle.model_folder import resolve  # noqa: E402
from textcycle.rewriter import Rewriter  # noqa: E402
from textcycle.text.data import load_corpus  # noqa: E402
from textcycle.text.lm_config import load_text_config  # noqa: E402
from textcycle.text.lm_data import natural  # noqa: E402
from textcycle.text.lm_model import LMGenerators  # noqa: E402
from textcycle.text.lm_pairs import fluency_loss  # noqa: E402
from textcycle.text.textnorm import normalize  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="yelp", help="an LM model folder or bundled name")
    p.add_argument("--config", default="configs/yelp-lm.yaml", help="the config whose data section gives dev")
    p.add_argument("--guidance", type=float, nargs="*", default=[1.15, 1.3, 1.5])
    p.add_argument("--sentences", type=int, default=200, help="dev sentences per style (the first ones)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--in-style", type=float, nargs="*", default=[], help="further fallback thresholds (p target)")
    p.add_argument("--repair-beam", type=int, nargs="*", default=[], help="further fallback beam widths")
    p.add_argument("--no-torch", action="store_true", help="only the Rewriter rows (no guidance, no ladder)")
    p.add_argument(
        "--fluency",
        type=float,
        default=None,
        metavar="NATS",
        help="also the share of Rewriter rewrites that read more than NATS per token worse than their source "
        "under the pretrained base (what train.selftrain_max_fluency_loss NATS would drop), and the worst ones",
    )
    p.add_argument(
        "--fluency-repair",
        type=float,
        default=None,
        metavar="NATS",
        help="also the default rewrite with its rewrites above NATS replaced by a fluent in-style beam candidate",
    )
    p.add_argument(
        "--also", nargs="*", default=["yelp-small"], help="further models for the Rewriter rows (default yelp-small)"
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    n = args.sentences
    corpus = load_corpus(load_text_config(args.config).data)
    dev = [list(corpus.dev[k][:n]) for k in (0, 1)]
    sources = [[natural(x, random.Random(f"dev-{i}"), "en") for i, x in enumerate(d)] for d in dev]
    classifier = StyleClassifier.load(DEFAULT_CLASSIFIER)

    def score(outs: list[list[str]]) -> tuple[float, float, float]:
        accs, bleus = [], []
        for s in (0, 1):
            hyp = [normalize(o, "en") for o in outs[s]]
            pred = classifier.predict(hyp, normalized=True)
            accs.append(100.0 * sum(int(q) == 1 - s for q in pred) / len(pred))
            bleus.append(self_bleu(hyp, dev[s], "en"))
        acc, bleu = sum(accs) / 2, sum(bleus) / 2
        return acc, bleu, math.sqrt(acc * bleu)

    worse: dict[str, list] = {}  # Rewriter row -> (fluency loss, source, rewrite), worst first
    use_base = args.fluency is not None or args.fluency_repair is not None
    base_lm = PretrainedLM.load(threads=args.threads) if use_base else None

    def report(name: str, outs: list[list[str]]) -> None:
        """With --fluency: the row's rewrites by how much worse they read than their sources."""
        if args.fluency is not None:
            pairs = [(x, y) for s in (0, 1) for x, y in zip(dev[s], outs[s])]
            worse[name] = sorted(((d, x, y) for d, (x, y) in zip(fluency_loss(base_lm, pairs), pairs)), reverse=True)

    rows = []
    if not args.no_torch:
        rows += torch_rows(args, sources, score)
    for model in [args.model, *args.also]:
        rw = Rewriter.from_pretrained(model, threads=args.threads)
        variants = [(False, None, None), (True, None, None)]
        if model == args.model:
            variants += [(True, v, None) for v in args.in_style] + [(True, None, w) for w in args.repair_beam]
        for fallback, in_style, width in variants:
            rewriter_module.IN_STYLE = DEFAULTS[0] if in_style is None else in_style
            rewriter_module.REPAIR_BEAM = DEFAULTS[1] if width is None else width
            t0 = time.time()
            got = [rw.rewrite(sources[s], to=1 - s, corpus_form=True, style_fallback=fallback) for s in (0, 1)]
            name = f"Rewriter {model}: greedy" + (" + style fallback" if fallback else "")
            name += "" if in_style is None else f" (in style from p {in_style:g})"
            name += "" if width is None else f" (beam {width})"
            rows.append((name, *score(got), time.time() - t0))
            if (
                args.fluency_repair is not None
                and model == args.model
                and fallback
                and (in_style, width) == (None, None)
            ):
                t0 = time.time()
                fixed = [
                    fluency_repair(rw, base_lm, sources[s], dev[s], got[s], 1 - s, args.fluency_repair) for s in (0, 1)
                ]
                name_fixed = f"Rewriter {model}: fluency repair {args.fluency_repair:g}"
                rows.append((name_fixed, *score(fixed), time.time() - t0 + rows[-1][-1]))
                report(name_fixed, fixed)
            report(name, got)
    print(f"dev: first {n} Li et al. dev sentences per style, natural form; model {args.model}\n")
    print("| decoding | ACC | self-BLEU | G | seconds |")
    print("|---|---:|---:|---:|---:|")
    for name, acc, bleu, g, sec in rows:
        print(f"| {name} | {acc:.1f} | {bleu:.1f} | {g:.2f} | {'' if math.isnan(sec) else f'{sec:.0f}'} |")
    for name, rows_worse in worse.items():
        share = 100.0 * sum(d > args.fluency for d, _, _ in rows_worse) / len(rows_worse)
        print(f"\n{name}: {share:.1f}% read more than {args.fluency:g} nats/token worse than the source; the worst:")
        for d, x, y in rows_worse[:5]:
            print(f"- {d:+.2f}: {x} -> {y}")
    return 0


DEFAULTS = (rewriter_module.IN_STYLE, rewriter_module.REPAIR_BEAM)


def fluency_repair(rw, base_lm, natural_sources, corpus_sources, outs, to, nats) -> list[str]:
    """`outs` (corpus form) with each rewrite that reads more than `nats` worse than its source
    replaced by the most fluent in-style rewrite of a 4-beam that is within `nats`, if any."""
    losses = fluency_loss(base_lm, list(zip(corpus_sources, outs)))
    bad = [i for i, d in enumerate(losses) if d > nats]
    if not bad:
        return outs
    beams = rw.engine.generate([natural_sources[i] for i in bad], to=to, beam=4, num_hypotheses=4)
    cands = [(i, normalize(str(h), "en")) for i, hyps in zip(bad, beams) for h in hyps]
    styled = rw.style_probs([c for _, c in cands])[:, to] >= rewriter_module.IN_STYLE
    losses = fluency_loss(base_lm, [(corpus_sources[i], c) for i, c in cands])
    best: dict[int, tuple[float, str]] = {}  # source -> (loss, candidate), the most fluent that passes
    for (i, c), st, d in zip(cands, styled, losses):
        if st and d <= nats and (i not in best or (d, c) < best[i]):
            best[i] = (d, c)
    return [best[i][1] if i in best else y for i, y in enumerate(outs)]


def torch_rows(args, sources, score) -> list[tuple]:
    """The guidance rows (torch) and the ladders over them."""
    n, rows = args.sentences, []
    judge = Rewriter.from_pretrained("yelp-small")
    gens = LMGenerators.from_pretrained(resolve(args.model))
    gens.lm = gens.merged_lm().eval()
    strengths = [1.0] + [g for g in args.guidance if g != 1.0]
    outs = {}
    for g in strengths:
        t0 = time.time()
        outs[g] = [
            [
                h[0]
                for b in range(0, n, args.batch)
                for h in gens.generate(
                    sources[s][b : b + args.batch],
                    [1 - s] * len(sources[s][b : b + args.batch]),
                    guidance=g,
                    away_from=[s] * len(sources[s][b : b + args.batch]),
                )
            ]
            for s in (0, 1)
        ]
        rows.append((f"guidance {g:g} (torch)", *score(outs[g]), time.time() - t0))
    probs = {
        g: [judge.style_probs([normalize(o, "en") for o in outs[g][s]])[:, 1 - s] for s in (0, 1)] for g in strengths
    }
    for k in range(2, len(strengths) + 1):
        ladder = strengths[:k]
        picked = [
            [outs[next((g for g in ladder if probs[g][s][i] >= 0.5), ladder[-1])][s][i] for i in range(n)]
            for s in (0, 1)
        ]
        rows.append((f"ladder {', '.join(f'{g:g}' for g in ladder)}", *score(picked), float("nan")))
    return rows


if __name__ == "__main__":
    sys.exit(main())
