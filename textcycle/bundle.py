"""Turn a training run into a shippable model: test-set outputs, scores, an fp16 copy, a model card.

    python -m textcycle.bundle runs/yelp --data ../shared/data/yelp \
        --outputs results/ours/textcycle-yelp --into textcycle/pretrained/yelp

1. rewrites the Li et al. test sources with the run's best checkpoint (greedy) into
   `--outputs` (`neg2pos.txt`, `pos2neg.txt`, the layout of the published systems' folders);
2. scores them with the evaluation module (`textcycle.evaluate`), as in the leaderboard;
3. saves the model in fp16 into `--into` with a README.md model card: data, the exact training
   command, wall time, machine, the scores per direction, and twenty sample rewrites.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
from pathlib import Path

import torch

from .errors import TextcycleError
from .model import TextCycleModel
from .rewrite import Rewriter

FIELDS = (("style_accuracy", "ACC"), ("bleu_ref4", "BLEU 4-ref"), ("bleu_ref1", "BLEU 1-ref"),
          ("self_bleu", "self-BLEU"), ("perplexity", "PPL"), ("g_ref4", "G 4-ref"))


def write_outputs(rw: Rewriter, sources: list[list[str]], out: Path) -> tuple[list[str], list[str]]:
    out.mkdir(parents=True, exist_ok=True)
    n2p = rw.rewrite(sources[0], to=1, corpus_form=True)
    p2n = rw.rewrite(sources[1], to=0, corpus_form=True)
    (out / "neg2pos.txt").write_text("\n".join(n2p) + "\n", encoding="utf-8")
    (out / "pos2neg.txt").write_text("\n".join(p2n) + "\n", encoding="utf-8")
    return n2p, p2n


def scores_table(r: dict) -> str:
    head = "| | " + " | ".join(name for _, name in FIELDS) + " |"
    rows = [head, "|---|" + "---:|" * len(FIELDS)]
    for label, d in (("neg -> pos", r["neg2pos"]), ("pos -> neg", r["pos2neg"]), ("**both (average)**", r)):
        vals = [d.get(k) for k, _ in FIELDS]
        rows.append(f"| {label} | " + " | ".join("–" if v is None else f"{v:.1f}" for v in vals) + " |")
    return "\n".join(rows)


def samples_table(sources, n2p, p2n, n: int = 10, seed: int = 0) -> str:
    rng = random.Random(seed)
    rows = ["| direction | source | rewrite |", "|---|---|---|"]
    for label, src, hyp in (("neg -> pos", sources[0], n2p), ("pos -> neg", sources[1], p2n)):
        for i in sorted(rng.sample(range(len(src)), n)):
            cell = [x.replace("|", "\\|") for x in (src[i], hyp[i])]
            rows.append(f"| {label} | {cell[0]} | {cell[1]} |")
    return "\n".join(rows)


def model_card(run: Path, scores: dict, samples: str, summary: dict, command: str) -> str:
    cfg = (run / "config.yaml").read_text(encoding="utf-8") if (run / "config.yaml").is_file() else ""
    minutes = summary.get("train_seconds", 0) / 60
    return f"""---
language: en
license: apache-2.0
library_name: textcycle
tags: [text-style-transfer, unpaired, cyclegan, sentiment]
datasets: [yelp (Shen et al. 2017), Li et al. 2018 test set]
---
# textcycle Yelp sentiment transfer (negative <-> positive)

Two BART-style Transformer generators (G_xy: negative -> positive, G_yx: positive -> negative;
shared token embedding) and a 3-way discriminator (negative / positive / generated), trained from
unpaired sentences with textcycle: denoising + back-translation warm start, then cycle-RL
(REINFORCE on the discriminator's style reward and the back-translation content reward).
Weights in fp16 safetensors; they load as fp32.

```bash
python -m textcycle.rewrite "the food was cold and the waiter was rude"
```

## Training
- Data: Yelp sentences of Shen et al. (2017): their dev+test files minus every sentence of the Li
  et al. (2018) dev and test sets, deduplicated (69,004 negative / 97,988 positive); validation:
  500 + 500 Li et al. dev sentences.
- Command: `{command}`
- Machine: {summary.get('machine', 'see README')}; {summary.get('processes', 1)} process(es) on
  {summary.get('device', 'cpu')}; {summary.get('steps')} steps ({summary.get('warm_steps')} warm start +
  {summary.get('rl_steps')} cycle-RL); wall time {minutes:.1f} min.
- Checkpoint shipped: the best by dev G (sqrt(style accuracy x self-BLEU) on 200 + 200 dev sentences),
  dev G {summary.get('best_dev_G', float('nan')):.1f}.

## Scores on the Li et al. test set (1000 sentences), textcycle's evaluation
Greedy decoding. ACC from the project's evaluation classifier (never the training discriminator);
BLEU with sacrebleu on lowercased, Yelp-tokenised text; PPL under the project's small LM. Command:
`python -m textcycle.evaluate --leaderboard --data ../shared/data/yelp --ours {summary.get('outputs', 'DIR')}`

{scores_table(scores)}

## Twenty sample rewrites (a fixed random draw, good and bad alike)

{samples}

## Limitations
Trained for {minutes:.0f} minutes ({summary.get('device', 'cpu')}): a small model that often swaps sentiment words
and sometimes loses content or produces ungrammatical text. It only knows restaurant / business
review sentences in the style of Yelp, lowercased and tokenised inside (the rewrite command
converts user text in and out). Long inputs are split into sentences.

## Config
```yaml
{cfg.strip()}
```
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.bundle", description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a training output dir (with best/ or final/)")
    p.add_argument("--checkpoint", default="best", choices=["best", "final"])
    p.add_argument("--data", default="../shared/data/yelp")
    p.add_argument("--outputs", required=True, help="where to write neg2pos.txt / pos2neg.txt")
    p.add_argument("--into", help="write the fp16 model + card here (e.g. textcycle/pretrained/yelp)")
    p.add_argument("--command", default="python -m textcycle.train --config configs/yelp.yaml")
    p.add_argument("--machine", default=f"{platform.machine()} CPU, 2 cores")
    args = p.parse_args(argv)
    try:
        from .evaluate.core import evaluate_system
        from .evaluate.testset import load_testset

        torch.set_num_threads(2)
        run = Path(args.run)
        rw = Rewriter.from_pretrained(run / args.checkpoint)
        ts = load_testset(args.data)
        n2p, p2n = write_outputs(rw, ts.sources, Path(args.outputs))
        scores = evaluate_system(n2p, p2n, data_dir=args.data, name="textcycle")
        (Path(args.outputs) / "scores.json").write_text(json.dumps(scores, indent=1) + "\n")
        print(scores_table(scores))
        if args.into:
            summary = json.loads((run / "train_summary.json").read_text()) if (run / "train_summary.json").is_file() else {}
            summary.update(machine=args.machine, outputs=args.outputs)
            card = model_card(run, scores, samples_table(ts.sources, n2p, p2n), summary, args.command)
            model = TextCycleModel.from_pretrained(run / args.checkpoint)
            model.save_pretrained(args.into, dtype=torch.float16, card=card)
            size = sum(f.stat().st_size for f in Path(args.into).iterdir()) / 2 ** 20
            print(f"bundled into {args.into} ({size:.1f} MiB)")
        return 0
    except TextcycleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
