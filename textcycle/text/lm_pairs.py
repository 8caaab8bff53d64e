"""Pseudo-pairs for the LM generators' warm start: from a teacher model (distillation), or from
the untrained base prompted with a few hand-written examples (few-shot).

    python -m textcycle.text.lm_pairs --config configs/yelp-lm.yaml --teacher yelp \\
        --per-style 20000 --rerank 4 --out runs/yelp-lm-pairs.tsv
    python -m textcycle.text.lm_pairs --config configs/yelp-lm.yaml --few-shot configs/yelp-lm-few-shot.tsv \\
        --per-style 5000 --out runs/yelp-lm-few-shot-pairs.tsv

Teacher: a small textcycle model (on its fast engine) rewrites training sentences of each style
into the other; of its greedy rewrite and `rerank - 1` samples, the best by its training reward
(`Rewriter.candidates`) is kept when its own discriminator puts it in the target style
(p >= --min-style) and it is usable: not a copy, the same numbers, no loop or broken contraction
(`lm_data.usable_rewrite`); pairs get the same drawn numbers on both sides (`lm_data.fill_pair`).

Few-shot: the base (`model.base`, on CTranslate2) gets an instruction and the examples of the
target style as chat turns (`lm_format.few_shot_prefix`, computed once per style as a static
prompt), then each training sentence in natural form; its greedy rewrite is kept when it is
usable (`lm_data.usable_rewrite`) and the teacher's discriminator puts it in the target style.

Either way a pair is then dropped when its rewrite reads much less fluently than its source under
the pretrained base (`fluency_loss` over --max-fluency-loss nats per token: the teacher's broken
words, "compreigentigent", "$great"). `--refilter FILE` applies the filters to an existing file.
Pairs are written in natural form, one per line: `source<TAB>rewrite<TAB>target style`.
"""

from __future__ import annotations

import argparse
import difflib
import random
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..cli import entry_point
from ..config import add_config_arguments, load_config
from ..errors import TextcycleError
from ..files import atomic_file, read_lines
from .lm_config import LMRecipe
from .lm_data import fill_pair, natural, usable_rewrite
from .lm_format import CHATML, PromptFormat, few_shot_prefix, few_shot_turn, prompt_format
from .textnorm import normalize


def teacher_pairs(
    rw, sentences: list[str], to: int, rerank: int, min_style: float, batch: int = 256
) -> list[tuple[str, str, float]]:
    """(source, best rewrite, its reward) in corpus form for the sentences that pass."""
    out = []
    for b in tqdm(range(0, len(sentences), batch), desc=f"teacher -> {to}", file=sys.stderr):
        chunk = sentences[b : b + batch]
        [(texts, scores)] = rw.candidates([(chunk, to)], n=rerank)
        if scores is None:  # rerank 1: the greedy rewrite, unscored
            scores = np.zeros((len(chunk), 1))
        best = [str(row[int(i)]) for row, i in zip(texts, scores.argmax(1))]
        probs = rw.style_probs(best)[:, to]
        for src, y, p, sc in zip(chunk, best, probs, scores.max(1)):
            if p >= min_style and y.strip() and y != src:
                out.append((src, y, float(sc)))
    return out


def few_shot_pairs(
    generator,
    tokenizer,
    examples: list[tuple[str, str]],
    sentences: list[str],
    to: int,
    style: str,
    judge,
    min_style: float,
    max_new_tokens: int = 48,
    batch: int = 64,
    fmt: PromptFormat = CHATML,
) -> list[tuple[str, str, float]]:
    """(source, rewrite, p(target style)) for the natural `sentences` the base rewrote into style
    `to` (named `style`) usably and in the target style by `judge` (texts -> [n, 2] probabilities)."""
    tokens = lambda text: tokenizer.encode(text, add_special_tokens=False).tokens  # noqa: E731
    prefix = tokens(few_shot_prefix(examples, style, fmt))
    out = []
    for b in tqdm(range(0, len(sentences), batch), desc=f"few-shot -> {style}", file=sys.stderr):
        chunk = sentences[b : b + batch]
        results = generator.generate_batch(
            [tokens(few_shot_turn(x, fmt)) for x in chunk],
            static_prompt=prefix,
            max_length=max_new_tokens,
            end_token=[fmt.end, "\n", "\n\n"],  # a base model may never close its turn
            include_prompt_in_result=False,
            sampling_topk=1,
        )
        ys = [first_line(tokenizer.decode(r.sequences_ids[0], skip_special_tokens=True)) for r in results]
        cands = [(x, y) for x, y in zip(chunk, ys) if usable_rewrite(x, y)]
        probs = judge([y for _, y in cands])[:, to] if cands else []
        out += [(x, y, float(p)) for (x, y), p in zip(cands, probs) if p >= min_style]
    return out


def similarity(source: str, rewrite: str) -> float:
    """How much of the source a rewrite keeps, by characters (difflib's ratio, 0-1): a cheap
    content floor for a teacher that sometimes replaces the comment with a stock phrase."""
    return difflib.SequenceMatcher(None, source, rewrite, autojunk=False).ratio()


def first_line(text: str) -> str:
    """A rewrite is one line: what a base model writes after its first line break is not part of it."""
    return text.strip().split("\n", 1)[0].replace("\t", " ").strip()


def fluency_loss(lm, pairs: list[tuple]) -> list[float]:
    """Per pair (x, y, ...): how much less fluent y reads than x under a pretrained LM
    (`evaluate.pretrained_lm.PretrainedLM`): y's mean negative log-likelihood per token minus
    x's, in nats (positive: y reads worse)."""
    xs, ys = lm.nll([p[0] for p in pairs]), lm.nll([p[1] for p in pairs])
    return [ay / max(cy, 1) - ax / max(cx, 1) for (ax, cx), (ay, cy) in zip(xs, ys)]


def fluent_pairs(pairs: list[tuple], base: str, max_loss: float | None, threads: int) -> list[tuple]:
    """The pairs whose rewrite loses at most `max_loss` nats per token of fluency (None: all)."""
    if max_loss is None or not pairs:
        return pairs
    from ..evaluate.pretrained_lm import PretrainedLM

    losses = fluency_loss(PretrainedLM.load(base, threads=threads), pairs)
    return [p for p, d in zip(pairs, losses) if d <= max_loss]


def write_pairs(path: Path, pairs: list[tuple[str, str, int]]) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text("".join(f"{x}\t{y}\t{t}\n" for x, y, t in pairs), encoding="utf-8")


def read_pairs(path: str | Path) -> list[tuple[str, str, int]]:
    """The pairs of a file `write_pairs` wrote; a malformed line is one error naming it."""
    pairs = []
    for i, line in enumerate(read_lines(path), 1):
        parts = line.split("\t")
        if len(parts) != 3 or parts[2] not in ("0", "1") or not parts[0] or not parts[1]:
            raise TextcycleError(f"{path}: line {i} is not 'source<TAB>rewrite<TAB>0|1'")
        pairs.append((parts[0], parts[1], int(parts[2])))
    if not pairs:
        raise TextcycleError(f"{path}: no pairs")
    return pairs


@entry_point
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.text.lm_pairs", description=__doc__.split("\n\n")[0])
    add_config_arguments(p)
    p.add_argument(
        "--teacher",
        default="yelp-small",
        help="a small textcycle model (bundled name or folder): the teacher, and with --few-shot the judge of style",
    )
    p.add_argument(
        "--few-shot",
        default=None,
        metavar="TSV",
        help="example rewrites (source<TAB>rewrite<TAB>target style index): prompt the base instead of the teacher",
    )
    p.add_argument("--per-style", type=int, default=20000, help="training sentences rewritten per style")
    p.add_argument("--rerank", type=int, default=4)
    p.add_argument(
        "--min-style",
        type=float,
        default=None,
        help="keep a pair when the teacher's discriminator gives its rewrite the target style with at least this "
        "probability (default 0.5; with --refilter, only when given)",
    )
    p.add_argument(
        "--min-similarity",
        type=float,
        default=0.0,
        help="keep a pair when its rewrite keeps at least this share of the source's characters (difflib ratio, 0-1)",
    )
    p.add_argument(
        "--max-fluency-loss",
        type=float,
        default=1.5,
        help="drop a pair whose rewrite's mean NLL per token under the base exceeds its source's by more (nats; "
        "default 1.5, about the worst fifth of the teacher's pairs)",
    )
    p.add_argument("--no-fluency-filter", action="store_true", help="keep pairs however they read")
    p.add_argument(
        "--no-appends",
        action="store_true",
        help="drop a rewrite that is its source with words only pasted before or after it (lm_data.appends_only)",
    )
    p.add_argument(
        "--refilter", default=None, metavar="TSV", help="filter an existing pairs file instead of making one"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    for name, v in (("--min-style", args.min_style), ("--min-similarity", args.min_similarity)):
        if v is not None and not 0 <= v <= 1:
            raise TextcycleError(f"{name} must be from 0 to 1, got {v:g}")
    out = Path(args.out)
    if out.exists():
        raise TextcycleError(f"{out} exists: pairs are never overwritten (remove it, or pick another --out)")
    from ..rewrite import Rewriter
    from .data import load_corpus
    from .sentence_filter import filtered_corpus

    cfg = load_config(args.config, LMRecipe, args.overrides)
    max_loss = None if args.no_fluency_filter else args.max_fluency_loss
    if args.refilter:
        pairs = read_pairs(args.refilter)
        usable = [
            p
            for p in pairs
            if usable_rewrite(p[0], p[1], not args.no_appends) and similarity(p[0], p[1]) >= args.min_similarity
        ]
        if args.min_style is not None and usable:
            rw = Rewriter.from_pretrained(args.teacher, threads=args.threads)
            probs = rw.style_probs([normalize(y, rw.language) for _, y, _ in usable])
            usable = [p for p, row in zip(usable, probs) if row[p[2]] >= args.min_style]
        kept = fluent_pairs(usable, cfg.model.base, max_loss, args.threads)
        write_pairs(out, kept)
        print(f"pairs: {len(pairs):,} read, {len(usable):,} usable, {len(kept):,} fluent written to {out}")
        return 0
    min_style = 0.5 if args.min_style is None else args.min_style
    examples = read_pairs(args.few_shot) if args.few_shot else None
    corpus = filtered_corpus(cfg.data, load_corpus(cfg.data), Path(cfg.train.output_dir))
    rng = random.Random(cfg.train.seed)
    rw = Rewriter.from_pretrained(args.teacher, threads=args.threads)
    if examples is not None:
        generator, tokenizer = base_generator(cfg.model.base, args.threads)
        fmt = prompt_format(cfg.model.resolved_prompt_format())
        judge = lambda texts: rw.style_probs([normalize(t, corpus.language) for t in texts])  # noqa: E731
    pairs, kept = [], []
    for s in (0, 1):
        sents = list(corpus.train[s])
        rng.shuffle(sents)
        sents = sents[: args.per_style]
        if examples is None:
            got = teacher_pairs(rw, sents, 1 - s, args.rerank, min_style)
            filled = [fill_pair(x, y, rng, corpus.language) for x, y, _ in got]
            pairs += [
                (*f, 1 - s)
                for f in filled
                if f and usable_rewrite(*f, not args.no_appends) and similarity(*f) >= args.min_similarity
            ]
        else:
            shots = [(x, y) for x, y, t in examples if t == 1 - s]
            texts = [natural(x, rng, corpus.language) for x in sents]
            style = corpus.style_names[1 - s]
            got = few_shot_pairs(
                generator,
                tokenizer,
                shots,
                texts,
                1 - s,
                style,
                judge,
                min_style,
                cfg.model.max_new_tokens,
                fmt=fmt,
            )
            pairs += [(x, y, 1 - s) for x, y, _ in got if similarity(x, y) >= args.min_similarity]
        kept.append(len(got))
    fluent = fluent_pairs(pairs, cfg.model.base, max_loss, args.threads)
    write_pairs(out, fluent)
    a, b = corpus.style_names
    print(
        f"pairs: {kept[0]:,} {a} -> {b}, {kept[1]:,} {b} -> {a} of {args.per_style:,} "
        f"per style; {len(pairs):,} usable, {len(fluent):,} fluent written to {out}"
    )
    return 0


def base_generator(base: str, threads: int):
    """The untrained base on CTranslate2 (its cached copy) and its tokenizer."""
    import ctranslate2
    from tokenizers import Tokenizer

    from ..engines.lm_convert import converted_base
    from .lm_format import TOKENIZER

    folder = converted_base(base)
    return ctranslate2.Generator(str(folder), device="cpu", intra_threads=threads), Tokenizer.from_file(
        str(folder / TOKENIZER)
    )


if __name__ == "__main__":
    sys.exit(main())
