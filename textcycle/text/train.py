"""Train a text model: the run around the method (data, schedule, evaluation, checkpoints, logs).

    python -m textcycle.train --config configs/yelp.yaml
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \
        --dynamo_backend no -m textcycle.train --config configs/yelp.yaml   # 2 CPU processes
    python -m textcycle.train --config configs/yelp.yaml --resume            # after a kill

The method itself (networks, optimisers, the warm-start, cycle-RL and discriminator updates) is
`textcycle.method.TextCycleGAN`. The schedule (`textcycle.schedule.Schedule`, owned by the run
and handed to the method): `warm_steps` of warm start, then `selftrain_rounds` rounds of
`selftrain_steps` self-training steps (each round on pseudo-pairs made from the latest
generators, `textcycle.selftrain`), then `rl_steps` of cycle-RL; with `time_limit_minutes`,
self-training ends after the last round that still leaves time for RL, and a run stops early,
saving everything, once it has trained that long. A run folder
(`train.output_dir`) holds `config.yaml`, `tokenizer/`, `checkpoints/step-N/`, `selftrain/`
(each round's pairs, so a resumed run trains on the same ones), `tensorboard/`, `curves.png`,
`best/` (best dev G), `final/` and `train_summary.json`; the image trainer writes the same shape.

This file is over 400 lines: the run is one class whose parts (data draws, rounds, dev evaluation,
checkpoints, the time budget) share its state; the method, the schedule, the rounds' pairs and the
run's tokenizer are already modules of their own.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from ..checkpoint import (
    latest_checkpoint,
    prune_checkpoints,
    remove_stale_temporaries,
    resume_latest,
    save_checkpoint,
    write_errors,
)
from ..cli import entry_point
from ..config import (
    add_config_arguments,
    check_run_config,
    load_config,
    load_yaml,
    resolve_config,
    save_config,
    to_dict,
)
from ..errors import TextcycleError
from ..evaluate.bleu import self_bleu
from ..files import atomic_write_text, check_output_folder
from ..model_folder import BEST, CHECKPOINTS, FINAL, RUN_CONFIG
from ..plots import TEXT_PANELS, plot_curves
from .config import TextCycleConfig, architecture_changes, validate_text_config
from .data import data_folders, load_corpus
from .method import TextCycleGAN
from .networks import pad_batch, trim
from .schedule import Schedule
from .selftrain import make_round, round_file, round_pairs
from .textnorm import decoded_to_corpus_form, zh_script
from .tokenizer import TextcycleTokenizer, prepare_tokenizer


def check_run_folder(out: Path, cfg: TextCycleConfig, resume: bool, config_file: Path | None = None) -> None:
    """Before anything is written: refuse an output folder that is a file or inside the data,
    refuse to mix runs or to replace a config.yaml the trainer did not write (`config_file`:
    the --config file), and refuse a resume that changes the networks' shape (the saved
    config.yaml is the record of how the checkpoints were made)."""
    check_output_folder(out, "train.output_dir", data_folders(cfg.data))
    has_ckpt = latest_checkpoint(out / CHECKPOINTS) is not None
    if has_ckpt and not resume:
        raise TextcycleError(f"{out} already has checkpoints: pass --resume to continue, or pick another output dir")
    saved = out / RUN_CONFIG
    check_run_config(saved, config_file, cfg)
    if resume and has_ckpt and saved.is_file():
        try:
            old = load_yaml(saved.read_text(encoding="utf-8"), str(saved)) or {}
        except UnicodeDecodeError as e:
            raise TextcycleError(f"{saved}: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(old, dict):
            raise TextcycleError(f"{saved}: expected a mapping at the top level")
        changes = architecture_changes(old, to_dict(cfg))
        if changes:
            raise TextcycleError(
                f"--resume: the config changes the networks the checkpoints in {out} were made "
                f"with ({'; '.join(changes)}); resume with the saved {saved}, or pick another "
                "output dir"
            )


class TrainingRun:
    """Data, schedule, evaluation, checkpoints and logs around a `TextCycleGAN`."""

    def __init__(self, cfg: TextCycleConfig, accelerator: Accelerator):
        self.cfg, self.acc = cfg, accelerator
        tc = cfg.train
        self.out = Path(tc.output_dir)
        self.rng = random.Random(tc.seed + 1000 * accelerator.process_index)
        self.corpus = load_corpus(cfg.data)
        for s in (0, 1):
            if not self.corpus.dev[s]:
                raise TextcycleError(
                    f"style {s} ({self.corpus.style_names[s]}) has no dev sentences: the corpus "
                    "is too small to hold out a dev split (give a dev file, or more sentences)"
                )
        if cfg.data.filter_min_prob is not None:  # style-bearing training sentences only
            from .sentence_filter import filter_for_run

            self.corpus = filter_for_run(cfg.data, self.corpus, self.out, accelerator)
        tok_dir = self.out / "tokenizer"
        if accelerator.is_main_process:
            prepare_tokenizer(cfg, self.corpus, tok_dir, log=accelerator.print)
        accelerator.wait_for_everyone()
        self.tok = TextcycleTokenizer.from_dir(tok_dir)
        self.train_ids = [self.tok.encode_fast(self.corpus.train[s], cfg.tokenizer.max_length) for s in (0, 1)]
        # the script of the training text, recorded in saved models so the rewriter can convert
        self.script = (
            zh_script(self.corpus.train[0][:2500] + self.corpus.train[1][:2500]) if cfg.data.language == "zh" else None
        )
        self.schedule = Schedule.from_config(tc)
        self.method = TextCycleGAN(cfg, self.tok, self.corpus.train, accelerator, self.draw, self.rng, self.schedule)
        self.step = 0
        self.started, self.seconds_before = time.time(), 0.0
        self.best_g = -1.0
        self.history: list[dict] = []
        self.round: int | None = None  # the self-training round whose pairs the method holds
        # measured per finished round: (seconds in all, seconds making its pairs); they tell
        # whether another round still leaves time for the cycle-RL phase (`another_round_fits`)
        self.round_seconds: list[tuple[float, float]] = []
        self.round_started: tuple[float, float] | None = None  # (train_seconds, generation s) at its start
        self.eval_seconds = 0.0  # the last dev evaluation's
        self.writer = None
        if accelerator.is_main_process:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tensorboard"))
        self.eval_classifier = self._load_eval_classifier()

    @property
    def total_steps(self) -> int:
        return self.schedule.total

    def draw(self, style: int, n: int) -> list[list[int]]:
        """n training sentences of `style` (token ids), drawn with replacement."""
        pool = self.train_ids[style]
        return [pool[self.rng.randrange(len(pool))] for _ in range(n)]

    # ------------------------------------------------------------ self-training rounds
    def prepare_round(self, r: int) -> None:
        """Give the method round r's pseudo-pairs (`selftrain.round_pairs`: read when a killed run
        made them already, else made now from the latest generators and saved)."""
        tc = self.cfg.train

        def make():
            threads = tc.threads or torch.get_num_threads()
            return make_round(self.model(), self.out, self.train_ids, self.rng, tc, threads, self.sampling_seed())

        self.method.pairs, stats, made_s = round_pairs(
            round_file(self.out, r), make, self.acc.is_main_process, self.acc.wait_for_everyone
        )
        self.round = r
        at_start = self.step == self.schedule.round_start(r)  # not a resume mid-round
        self.round_started = (self.train_seconds() - made_s, made_s) if at_start else None
        if self.acc.is_main_process:
            self.log(stats)
            row = {
                "step": self.step,
                "phase": "selftrain-round",
                "round": r,
                **{k: round(v, 4) for k, v in stats.items()},
            }
            self.history.append(row)
            tqdm.write(json.dumps(row))

    def sampling_seed(self) -> int:
        """A seed for a random draw outside the run's checkpointed generators (CTranslate2's
        sampling), from the run's seed and step: two runs of one config draw the same. (Steps
        apart by 2: make_pairs draws with the seed and the seed + 1.)"""
        return (self.cfg.train.seed * 1_000_003 + self.step * 2) % 2**31

    # ------------------------------------------------------------ evaluation
    def _load_eval_classifier(self):
        """The independent evaluation classifier, where one exists for this corpus."""
        from ..evaluate.classifier import StyleClassifier
        from ..evaluate.paths import DEFAULT_CLASSIFIER

        path = self.cfg.train.eval_classifier
        if path is None and self.cfg.data.source != "yelp_shared":
            return None  # the bundled classifier only knows Yelp sentiment
        try:
            return StyleClassifier.load(path or DEFAULT_CLASSIFIER)
        except TextcycleError as e:
            print(f"warning: {e}; dev accuracy falls back to the discriminator")
            return None

    def transfer(self, sents: list[str], to: int, bs: int = 128) -> list[str]:
        """Greedy rewrites of corpus-form sentences into style `to`, in corpus form."""
        out = []
        for i in range(0, len(sents), bs):
            ids = self.tok.encode_fast(sents[i : i + bs], self.cfg.tokenizer.max_length)
            out += self.tok.decode_fast(trim(self.method.transfer(ids, to)))
        return decoded_to_corpus_form(out, self.cfg.data.language)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Dev style accuracy (the evaluation classifier, else the discriminator), self-BLEU and G."""
        n = self.cfg.train.eval_sentences
        res, accs, bleus = {}, [], []
        judge = "discriminator"
        for s in (0, 1):
            src = self.corpus.dev[s][:n]
            hyp = self.transfer(src, 1 - s)
            if self.eval_classifier is not None:
                pred = self.eval_classifier.predict(hyp, normalized=True)
                judge = "eval_classifier"
            else:
                ids, _ = pad_batch(self.tok.encode_fast(hyp, self.cfg.tokenizer.max_length), self.acc.device)
                pred = self.method.disc(ids)[:, :2].argmax(-1).tolist()
            acc = 100.0 * sum(int(p) == 1 - s for p in pred) / len(pred)
            bleu = self_bleu(hyp, src, self.cfg.data.language)
            res[f"dev/acc_to{1 - s}"], res[f"dev/self_bleu_to{1 - s}"] = acc, bleu
            accs.append(acc)
            bleus.append(bleu)
            res[f"sample_to{1 - s}"] = f"{src[0]}  ->  {hyp[0]}"
        acc, bleu = sum(accs) / len(accs), sum(bleus) / len(bleus)
        res.update(
            {"dev/acc": acc, "dev/self_bleu": bleu, "dev/G": math.sqrt(max(acc, 0) * max(bleu, 0)), "dev/judge": judge}
        )
        return res

    def evaluate_and_keep_best(self) -> None:
        if self.acc.is_main_process:
            t0 = time.time()
            res = self.evaluate()
            self.eval_seconds = time.time() - t0
            self.log(res)
            row = {
                "step": self.step,
                "minutes": round(self.train_seconds() / 60, 2),  # for equal-time pilots
                **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()},
            }
            self.history.append(row)
            tqdm.write(json.dumps(row, ensure_ascii=False))
            if self.step > self.cfg.train.warm_steps // 2 and res["dev/G"] > self.best_g:
                self.best_g = res["dev/G"]
                self.model().save_pretrained(self.out / BEST, ctranslate2=None)  # added at the end of the run
                atomic_write_text(self.out / BEST / "dev_eval.json", json.dumps(row, indent=1, ensure_ascii=False))
        self.acc.wait_for_everyone()

    # ------------------------------------------------------------ checkpoints
    def model(self):
        return self.method.model(self.corpus.style_names, self.script)

    def save(self) -> None:
        if self.acc.is_main_process:
            st = self.rng.getstate()
            info = {
                "best_g": self.best_g,
                "history": self.history[-2000:],
                "train_seconds": self.train_seconds(),
                "data_rng": [st[0], list(st[1]), st[2]],
                "round_seconds": self.round_seconds,
                "eval_seconds": self.eval_seconds,
                "selftrain_cut": self.schedule.cut_at,
            }
            models, states = self.method.checkpoint_parts()
            save_checkpoint(self.out / CHECKPOINTS, self.step, models, states, info)
            prune_checkpoints(self.out / CHECKPOINTS, self.cfg.train.keep_checkpoints)
        self.acc.wait_for_everyone()

    def resume(self) -> bool:
        models, states = self.method.checkpoint_parts()
        found = resume_latest(self.out / CHECKPOINTS, models, states, log=self.acc.print)
        if found is None:
            return False
        _, info = found
        self.method.after_load()
        self.step = info["step"]
        self.seconds_before = info.get("train_seconds", 0.0)
        self.best_g = info.get("best_g", -1.0)
        self.history = info.get("history", [])
        self.round_seconds = [tuple(x) for x in info.get("round_seconds") or []]
        self.eval_seconds = float(info.get("eval_seconds") or 0.0)
        if info.get("selftrain_cut") is not None:
            self.cut_selftrain(int(info["selftrain_cut"]), announce=False)
        self.method.refresh_lr()  # this config's rate (rl_lr may differ from the checkpoint's)
        if self.acc.is_main_process and "data_rng" in info:
            st = info["data_rng"]
            self.rng.setstate((st[0], tuple(st[1]), st[2]))
        else:  # other processes: a fresh stream that depends on the step, so no batch repeats
            self.rng.seed(f"{self.cfg.train.seed}-{self.acc.process_index}-{self.step}")
        return True

    @staticmethod
    def add_fast_engine(folder: Path) -> None:
        """CTranslate2 copies for a model folder saved without them (best/ during the run)."""
        from ..engines.ct2_convert import export_ctranslate2
        from .model import TextCycleModel

        export_ctranslate2(TextCycleModel.from_pretrained(folder), folder)

    def train_seconds(self) -> float:
        """Wall time spent training, over all resumed runs."""
        return self.seconds_before + time.time() - self.started

    # ------------------------------------------------------------ time budget
    def agreed(self, flag: bool) -> bool:
        """The main process's `flag` in every process: decisions from clocks, which differ a
        little between processes, must be the same in all of them or they stop waiting for
        each other."""
        if self.acc.num_processes == 1:
            return flag
        from accelerate.utils import broadcast_object_list

        return bool(broadcast_object_list([flag])[0])

    def another_round_fits(self) -> bool:
        """Whether one more self-training round still leaves time for the cycle-RL phase, by the
        last finished round's measured time (`Schedule.another_round_fits`)."""
        last = self.round_seconds[-1] if self.round_seconds else None
        limit_s = 60 * self.cfg.train.time_limit_minutes
        return self.schedule.another_round_fits(limit_s, self.train_seconds(), last, self.eval_seconds)

    def end_round(self) -> None:
        """Record the round that just ended: (seconds in all, its evaluation included; seconds
        making its pairs). Not for a round resumed in its middle: its time is unknown."""
        if self.round_started is not None:
            start, made = self.round_started
            self.round_seconds.append((self.train_seconds() - start, made))
            self.round_started = None

    def cut_selftrain(self, rounds: int, announce: bool = True) -> None:
        """End self-training after `rounds` rounds: the cycle-RL phase starts at the next step."""
        tc = self.cfg.train
        if announce:
            tqdm.write(
                f"time limit: self-training ends after {rounds} of {tc.selftrain_rounds} rounds, so that "
                f"the {tc.rl_steps} cycle-RL steps fit in {tc.time_limit_minutes:g} min"
            )
            self.history.append(
                {"step": self.step, "phase": "selftrain-cut", "rounds": rounds, "rounds_in_config": tc.selftrain_rounds}
            )
        self.schedule.cut(rounds)
        self.method.refresh_lr()  # the next step already has the new phase's rate

    # ------------------------------------------------------------ loop
    def log(self, logs: dict) -> None:
        if self.writer is None:
            return
        for k, v in logs.items():
            if isinstance(v, (int, float)):
                self.writer.add_scalar(k, v, self.step)

    def run(self) -> None:
        tc = self.cfg.train
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            desc="train",
            disable=not self.acc.is_main_process,
            dynamic_ncols=True,
        )
        t0, n0 = time.time(), self.step
        stopped_early = False
        while self.step < self.total_steps:
            if self.agreed(tc.time_limit_minutes > 0 and self.train_seconds() >= 60 * tc.time_limit_minutes):
                stopped_early = True
                tqdm.write(f"time limit: {tc.time_limit_minutes} min of training reached at step {self.step}")
                if self.step % tc.eval_every:
                    self.evaluate_and_keep_best()
                if self.step % tc.save_every:
                    self.save()
                break
            now, r = self.schedule.phase(self.step)
            self.method.step = self.step
            if now == "warm":
                logs = self.method.warm_step()
            elif now == "selftrain":
                if r != self.round:
                    at_round_start = self.step == self.schedule.round_start(r)  # not a resume mid-round
                    if at_round_start and self.agreed(not self.another_round_fits()):
                        self.cut_selftrain(r)
                        self.save()  # a kill now must not decide again, on less information
                        bar.total = self.total_steps
                        bar.refresh()
                        continue
                    self.prepare_round(r)
                logs = self.method.selftrain_step()
            else:
                logs = self.method.rl_step()
            self.step += 1
            bar.update(1)
            if self.step % tc.log_every == 0 or self.step == self.total_steps:
                logs["speed/steps_per_s"] = (self.step - n0) / max(1e-9, time.time() - t0)
                self.log(logs)
                self.history.append(
                    {
                        "step": self.step,
                        "phase": now,
                        **{k: round(v, 4) for k, v in logs.items() if isinstance(v, float)},
                    }
                )
                bar.set_postfix(
                    {
                        k.split("/")[-1]: f"{v:.3f}"
                        for k, v in logs.items()
                        if k.startswith(("warm/dae", "selftrain/pair", "rl/reward", "rl/style"))
                    }
                )
            if self.step % tc.eval_every == 0 or self.step == self.total_steps:
                self.evaluate_and_keep_best()
            if now == "selftrain" and (self.step - self.schedule.warm_steps) % self.schedule.round_steps == 0:
                self.end_round()  # before the save, so a resumed run knows the round's time
            if self.step % tc.save_every == 0 or self.step == self.total_steps:
                self.save()
        bar.close()
        if self.acc.is_main_process:
            self.model().save_pretrained(self.out / FINAL)
            if (self.out / BEST / "config.json").is_file() and not (self.out / BEST / "ct2").is_dir():
                self.add_fast_engine(self.out / BEST)
            summary = {
                "steps": self.step,
                "warm_steps": tc.warm_steps,
                "selftrain_rounds": self.schedule.rounds,
                "selftrain_cut_by_time_limit": self.schedule.cut_at is not None,
                "selftrain_steps": tc.selftrain_steps,
                "rl_steps": tc.rl_steps,
                "stopped_by_time_limit": stopped_early,
                "processes": self.acc.num_processes,
                "device": str(self.acc.device),
                "train_seconds": round(self.train_seconds(), 1),
                "best_dev_G": self.best_g,
            }
            atomic_write_text(self.out / "train_summary.json", json.dumps(summary, indent=1) + "\n")
            plot_curves(self.history, self.out / "curves.png", TEXT_PANELS)
            if self.writer:
                self.writer.close()


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m textcycle.train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir")
    p.add_argument("--output-dir", help="overrides train.output_dir")
    return p.parse_args(argv)


@entry_point
def main(argv=None) -> int:
    args = parse_args(argv)
    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"train.output_dir={args.output_dir}")
    cfg = validate_text_config(load_config(args.config, TextCycleConfig, overrides))
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    no_gpu = not torch.cuda.is_available()
    mp = cfg.train.mixed_precision
    if mp == "fp16" and no_gpu:
        mp = "no"  # fp16 autocast needs a GPU; on CPU fp32 is also the fastest here
    # accelerate only sets up several CPU processes (gloo) when told cpu=True
    accelerator = Accelerator(cpu=no_gpu, mixed_precision=mp)
    set_seed(cfg.train.seed + accelerator.process_index)
    out = Path(cfg.train.output_dir)
    check_run_folder(out, cfg, args.resume, resolve_config(args.config))
    # a full disk at any save is one line naming the checkpoint to resume from, not a traceback
    with write_errors(None, out / CHECKPOINTS, any_os_error=False):
        run = TrainingRun(cfg, accelerator)
        if args.resume:
            if run.resume():
                accelerator.print(f"resumed from step {run.step}")
            else:
                accelerator.print("no checkpoint found; starting from scratch")
        if accelerator.is_main_process:  # only now: the checks passed, this config makes the next checkpoints
            save_config(cfg, out / RUN_CONFIG)  # as given: a time-limit cut is in the checkpoints
            remove_stale_temporaries(out)
            remove_stale_temporaries(out / CHECKPOINTS)
        accelerator.print(run.corpus.summary())
        accelerator.print(f"{accelerator.num_processes} process(es) on {accelerator.device}")
        run.run()
    accelerator.print(f"done: {run.step} steps; model in {out / 'final'} (best by dev G in {out / 'best'})")
    return 0


main.interrupt_note = "; continue with --resume"

if __name__ == "__main__":
    sys.exit(main())
