"""Turn a training run into a shippable model: test-set outputs, scores, an fp16 copy, a model card.

    python -m textcycle.text.bundle runs/yelp --data ../shared/data/yelp \
        --outputs results/ours/textcycle-yelp --into textcycle/pretrained/yelp
    python -m textcycle.text.bundle runs/zh-reviews --config configs/zh-reviews.yaml \
        --lm textcycle/pretrained/zh-eval/lm --outputs results/ours/textcycle-zh --into textcycle/pretrained/zh

1. rewrites the Li et al. test sources with the run's best checkpoint (greedy) into
   `--outputs` (`neg2pos.txt`, `pos2neg.txt`, the layout of the published systems' folders);
2. scores them with the evaluation module (`textcycle.evaluate`), as in the leaderboard;
3. saves the model in fp16 into `--into` with a README.md model card (`text.model_card`): data, the exact training
   command, wall time, machine, the scores per direction, and twenty sample rewrites. An LM run
   (`text.lm_train`) ships its model folder as it is: the adapter, not the base.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from ..cli import entry_point
from ..errors import TextcycleError
from ..evaluate.faithful import probe_markdown, read_probe
from ..evaluate.report import samples_table, scores_table
from ..evaluate.testset import DIRECTIONS
from ..files import atomic_dir, atomic_write_text
from ..model_folder import ModelFolder
from ..rewriter import Rewriter
from .model import TextCycleModel
from .model_card import FIELDS, corpus_model_card, model_card, run_summary

STYLE_FALLBACK = (
    "Greedy decoding with the Rewriter's style fallback (a greedy rewrite that the model's discriminator "
    "does not put in the target style takes the first of a 4-beam's candidates that it does; "
    "`rewrite --no-style-fallback` turns it off)."
)


def write_test_outputs(
    rw: Rewriter, sources: list[list[str]], out: Path, rerank: int = 1, style_fallback: bool = True
) -> list[list[str]]:
    """Rewrites of each style's test sentences into the other style (greedy with the Rewriter's
    style fallback, or reward-reranked), in corpus form, as `neg2pos.txt` / `pos2neg.txt` (the
    published systems' layout)."""
    outputs = [
        rw.rewrite(sources[s], to=1 - s, corpus_form=True, rerank=rerank, seed=0, style_fallback=style_fallback)
        for s in (0, 1)
    ]
    for s, d in enumerate(DIRECTIONS):
        atomic_write_text(out / f"{d}.txt", "\n".join(outputs[s]) + "\n")
    return outputs


def save_lm_bundle(folder: Path, into: Path, card: str) -> None:
    """An LM model folder as it is (config, adapter, discriminator, SentencePiece model) with the
    card, atomically; its fast copy is built on first use, not shipped."""
    import shutil

    with atomic_dir(into) as tmp:
        for f in folder.iterdir():
            if f.name in ("config.json", "adapter", "discriminator.safetensors", "tokenizer.model"):
                (shutil.copytree if f.is_dir() else shutil.copyfile)(f, tmp / f.name)
        (tmp / "README.md").write_text(card, encoding="utf-8")


# what each corpus source is, for the card: (datasets, title, data line, how the script is handled)


def bundle_corpus(args) -> int:
    """--config mode: rewrite the config's own test split, score it (the split's ruler), bundle."""
    from ..evaluate.split_eval import SELF_FIELDS, clear_table, evaluate_outputs, test_split

    run = Path(args.run)
    cfg, _, sources = test_split(args.config)
    classifier = args.classifier or cfg.train.eval_classifier
    if not classifier:
        raise TextcycleError("give --classifier (or train.eval_classifier in the config)")
    folder = ModelFolder.open(run / args.checkpoint)
    rw = Rewriter.from_pretrained(folder, engine=args.engine)
    write_test_outputs(rw, sources, Path(args.outputs), args.rerank)
    name = "textcycle" if args.rerank == 1 else f"textcycle (rerank {args.rerank})"
    result = evaluate_outputs(args.config, args.outputs, classifier, args.lm, name=name)
    print(scores_table([result["copy_input"], result["ours"]], SELF_FIELDS, result["style_names"]))
    print("\n" + clear_table(result))
    if args.into:
        summary = run_summary(run)
        summary.update(machine=args.machine, checkpoint=args.checkpoint)
        eval_cmd = (
            f"python -m textcycle.evaluate.split_eval --config {args.config} --outputs {args.outputs} "
            f"--classifier {classifier}" + (f" --lm {args.lm}" if args.lm else "")
        )
        mfile = Path(classifier) / "metrics.json"
        metrics = json.loads(mfile.read_text()) if mfile.is_file() else {}
        samples = (Path(args.outputs) / "samples.md").read_text(encoding="utf-8")
        card = corpus_model_card(
            run,
            result,
            samples,
            summary,
            args.command,
            eval_cmd,
            metrics,
            name=Path(args.into).name,
            source=cfg.data.source,
            script=folder.script,
            example=sources[0][0],
            lm_base=folder.config.get("base") if folder.kind == "lm" else None,
        )
        if folder.kind == "lm":
            save_lm_bundle(folder.path, Path(args.into), card)
        else:
            TextCycleModel.from_pretrained(folder).save_pretrained(args.into, dtype=torch.float16, card=card)
        size = sum(f.stat().st_size for f in Path(args.into).rglob("*") if f.is_file()) / 2**20
        print(f"bundled into {args.into} ({size:.1f} MiB)")
    return 0


@entry_point
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.text.bundle", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a training output dir (with best/ or final/)")
    p.add_argument(
        "--checkpoint",
        default="best",
        help="model folder inside RUN (best, final, or e.g. yelp with RUN = textcycle/pretrained)",
    )
    p.add_argument("--data", default="../shared/data/yelp")
    p.add_argument("--outputs", required=True, help="where to write neg2pos.txt / pos2neg.txt")
    p.add_argument("--into", help="write the fp16 model + card here (e.g. textcycle/pretrained/yelp)")
    p.add_argument("--command", default="python -m textcycle.train --config configs/yelp.yaml")
    p.add_argument("--machine", default=f"{platform.machine()} CPU, 2 cores")
    p.add_argument(
        "--config",
        help="a corpus without human rewrites (e.g. configs/zh-reviews.yaml): score on "
        "its own test split (self-BLEU, ACC, PPL) instead of the Yelp leaderboard",
    )
    p.add_argument("--classifier", help="with --config: evaluation classifier (default: train.eval_classifier)")
    p.add_argument("--lm", help="with --config: evaluation LM folder for perplexity")
    p.add_argument(
        "--rerank",
        type=int,
        default=1,
        metavar="N",
        help="decode as `rewrite --rerank N` (default 1: greedy); the card describes greedy",
    )
    p.add_argument(
        "--no-style-fallback",
        action="store_true",
        help="plain greedy outputs, as `rewrite --no-style-fallback` (default: the style fallback, as `rewrite`)",
    )
    p.add_argument("--engine", default="auto", choices=("auto", "ct2", "torch"), help="rewriting engine")
    p.add_argument(
        "--probe",
        default=str(Path(__file__).resolve().parents[2] / "tests" / "data" / "faithful-en.tsv"),
        help="cased probe sentences with numbers and names for the card (default: the tests' probe; "
        "skipped when missing)",
    )
    args = p.parse_args(argv)
    if args.config:
        torch.set_num_threads(2)
        return bundle_corpus(args)
    from ..evaluate.core import evaluate_system
    from ..evaluate.testset import load_testset

    torch.set_num_threads(2)
    run = Path(args.run)
    folder = ModelFolder.open(run / args.checkpoint)
    rw = Rewriter.from_pretrained(folder, engine=args.engine)
    ts = load_testset(args.data)
    n2p, p2n = write_test_outputs(rw, ts.sources, Path(args.outputs), args.rerank, not args.no_style_fallback)
    scores = evaluate_system(n2p, p2n, data_dir=args.data, name="textcycle")
    atomic_write_text(Path(args.outputs) / "scores.json", json.dumps(scores, indent=1) + "\n")
    print(scores_table([scores], FIELDS))
    if args.into:
        summary = run_summary(run)
        summary.update(machine=args.machine, outputs=args.outputs)
        dev_row = folder.path / "dev_eval.json"
        if dev_row.is_file():
            summary["shipped"] = json.loads(dev_row.read_text(encoding="utf-8"))
        samples = samples_table(ts.sources, [n2p, p2n], ["negative", "positive"], n=10)
        probe = ""
        if Path(args.probe).is_file():
            rows = read_probe(args.probe)
            probe = probe_markdown(rows, rw.rewrite([s for s, _ in rows]))
        decoding = "Greedy decoding." if args.no_style_fallback or args.rerank > 1 else STYLE_FALLBACK
        card = model_card(
            run, scores, samples, summary, args.command, lm=folder.kind == "lm", probe=probe, decoding=decoding
        )
        if folder.kind == "lm":
            save_lm_bundle(folder.path, Path(args.into), card)
        else:
            TextCycleModel.from_pretrained(folder).save_pretrained(args.into, dtype=torch.float16, card=card)
        size = sum(f.stat().st_size for f in Path(args.into).rglob("*") if f.is_file()) / 2**20
        print(f"bundled into {args.into} ({size:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
