"""python -m textcycle.text.lm_train --config configs/yelp-lm.yaml: the run around the LM method.

Three phases, in the order of the small method; the `Schedule` owns where a step is (phase,
round, learning rate, the time-limit cut), the method only updates:
1. warm: pseudo-pairs from `train.warm_pairs` (`lm_pairs`: a teacher's or few-shot rewrites),
   `warm_steps` steps of `batch_size` pairs, each trained both ways (x -> y and the cycle
   y -> x); or, `warm_start: lexicon`, the small method's denoising pairs made on the fly
   (`lm_data.lexicon_pair`), trained one way;
2. self-training rounds: the current generators' fast copy (merged, CTranslate2) rewrites
   `selftrain_sources` training sentences per style, greedy and `selftrain_samples` samples;
   the training reward picks the best per source, kept when it is in the target style, keeps the
   content and is usable (`lm_data.usable_rewrite`: not a copy, the source's numbers exactly, no
   invented loop; with `selftrain_reject_appends`, not the source with words pasted around it);
   `selftrain_steps` pair steps train on them. With `selftrain_guidance` rungs the candidate is
   instead the greedy rewrite, else the first rung's style-guided greedy rewrite (torch,
   `LMGenerators.generate(guidance=...)`) that passes: the generators learn what guidance made
   them write, so plain greedy decoding gets some of its style;
3. cycle-RL: `rl_steps` REINFORCE steps with the discriminator learning alongside.

The run writes what the small method's run writes: config.yaml, checkpoints/ (the adapter, the
discriminator, optimisers, RNG; atomic, `--resume` continues), best/ (by dev G from the evaluation
classifier, the model folder), final/, tensorboard/, curves.png, train_summary.json.

It shares the small run's `schedule.Schedule` (phase, round, learning rate, the time-limit cut).
This file is over 400 lines: the rounds and the dev evaluation on the merged fast copy stay
beside the loop until the LM run's pilots settle what it keeps.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..checkpoint import latest_checkpoint, prune_checkpoints, save_checkpoint
from ..cli import entry_point
from ..config import add_config_arguments, config_yaml, load_config, save_config
from ..engines.lm import LMEngine
from ..engines.lm_convert import convert_merged
from ..errors import TextcycleError
from ..evaluate.bleu import self_bleu
from ..files import atomic_write_text
from ..plots import plot_curves
from .lm_config import LMRecipe, validate_lm_config
from .lm_data import lexicon_pair, natural, usable_rewrite
from .lm_method import LMCycleGAN
from .lm_model import LMGenerators, LMSpec
from .lm_pairs import fluency_loss, read_pairs
from .noise import style_lexicon
from .reward import combine_rewards, content_reward, detected_style_probs, style_reward
from .schedule import Schedule
from .selftrain import best_candidates
from .sentence_filter import filtered_corpus
from .textnorm import normalize

PANELS = {
    "pairs": ("pairs/forward", "pairs/cycle"),
    "reward": ("rl/reward_to0", "rl/reward_to1"),
    "dev": ("dev/acc", "dev/self_bleu", "dev/G"),
}


class LMTrainingRun:
    def __init__(self, cfg: LMRecipe, resume: bool = False):
        from ..model_folder import resolve
        from .data import load_corpus
        from .model import TextCycleModel
        from .vocab import encode_ids

        self.cfg, tc = cfg, cfg.train
        if tc.threads:
            torch.set_num_threads(tc.threads)
        self.out = Path(tc.output_dir)
        torch.manual_seed(tc.seed)
        self.rng = random.Random(tc.seed)
        corpus = filtered_corpus(cfg.data, load_corpus(cfg.data), self.out, log=tqdm.write)
        self.style_names, self.language = list(corpus.style_names), corpus.language
        self.train_text = [
            [natural(s, random.Random(f"{tc.seed}-{i}"), self.language) for i, s in enumerate(corpus.train[k])]
            for k in (0, 1)
        ]
        self.dev = [corpus.dev[k][: tc.eval_sentences] for k in (0, 1)]
        self.dev_natural = [
            [natural(s, random.Random(f"dev-{i}"), self.language) for i, s in enumerate(d)] for d in self.dev
        ]
        self.pairs = read_pairs(tc.warm_pairs) if tc.warm_steps and tc.warm_start == "pairs" else []
        if tc.warm_start == "lexicon":
            self.train_corpus = [list(corpus.train[k]) for k in (0, 1)]
            lex = style_lexicon(*self.train_corpus, ratio=tc.lexicon_ratio)
            self.lexicon = [(list(side), set(side)) for side in lex]
        m = cfg.model
        self.spec = LMSpec(
            base=m.base,
            style_names=self.style_names,
            lora_rank=m.lora_rank,
            lora_alpha=m.lora_alpha,
            lora_dropout=m.lora_dropout,
            max_source_tokens=m.max_source_tokens,
            max_new_tokens=m.max_new_tokens,
            prompt_format=m.resolved_prompt_format(),
        )
        self.gens = LMGenerators.build(self.spec)
        self.fluency_lm = None  # the pretrained base on CTranslate2, loaded by the first fluency floor
        small_folder = resolve(cfg.discriminator_from)
        small = TextCycleModel.from_pretrained(small_folder)
        self.disc, self.sp, self.max_length = small.discriminator, small.tokenizer.sp_model, small.max_length
        if tc.init_from:
            self._init_from(Path(tc.init_from))
        self.sp_file = small_folder / "tokenizer.model"
        encode = lambda texts: encode_ids(self.sp, [normalize(t, self.language) for t in texts], self.max_length)  # noqa: E731
        self.method = LMCycleGAN(
            self.gens,
            self.disc,
            encode,
            lr=tc.lr,
            disc_lr=tc.disc_lr,
            max_grad_norm=tc.max_grad_norm,
            bt_weight=tc.bt_weight,
            style_weight=tc.style_weight,
            content_weight=tc.content_weight,
        )
        self.schedule = Schedule(
            tc.warm_steps,
            tc.selftrain_rounds,
            tc.selftrain_steps,
            tc.rl_steps,
            tc.lr,
            tc.warmup_steps,
            tc.selftrain_lr,
            tc.rl_lr,
        )
        self.step, self.best_g, self.history, self.seconds = 0, -1.0, [], 0.0
        self.round, self.round_pairs = None, []
        self.classifier = self._classifier()
        self.out.mkdir(parents=True, exist_ok=True)
        if resume and latest_checkpoint(self.out / "checkpoints"):
            self._resume()
        save_config(cfg, self.out / "config.yaml")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.out / "tensorboard"))

    def _init_from(self, folder: Path) -> None:
        """Start from a saved LM model (a run's best/): its adapter and its discriminator, e.g. a
        later phase alone from a warm start's best checkpoint (the RL pilots)."""
        from safetensors.torch import load_file

        from .lm_format import ADAPTER, read_lm_spec

        saved = read_lm_spec(folder)
        if (saved.base, saved.lora_rank, saved.style_names) != (
            self.spec.base,
            self.spec.lora_rank,
            self.spec.style_names,
        ) or not (folder / ADAPTER).is_dir():
            raise TextcycleError(
                f"train.init_from {folder}: not an LoRA model of base {self.spec.base!r}, rank "
                f"{self.spec.lora_rank} and styles {self.spec.style_names}"
            )
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(self.gens.lm, load_file(str(folder / ADAPTER / "adapter_model.safetensors")))
        try:
            self.disc.load_state_dict(load_file(str(folder / "discriminator.safetensors")))
        except (OSError, RuntimeError) as e:
            raise TextcycleError(f"train.init_from {folder}: its discriminator does not fit ({e})") from None
        tqdm.write(f"started from {folder}")

    def _classifier(self):
        from ..evaluate.classifier import StyleClassifier
        from ..evaluate.paths import DEFAULT_CLASSIFIER

        return StyleClassifier.load(self.cfg.train.eval_classifier or DEFAULT_CLASSIFIER)

    # ------------------------------------------------------------------ the fast copy
    def fast_engine(self, name: str, seed: int | None = None) -> LMEngine:
        """The current generators merged and converted (int8) into the run folder's `name/`."""
        folder = self.out / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.gens.eval()
        ct2 = convert_merged(self.gens, folder)
        return LMEngine(
            ct2,
            self.style_names,
            threads=self.cfg.train.threads or 2,
            max_source_tokens=self.spec.max_source_tokens,
            max_new_tokens=self.spec.max_new_tokens,
            seed=seed,
            fmt=self.gens.format,
        )

    # ------------------------------------------------------------------ evaluation
    def evaluate(self) -> dict:
        """Dev ACC (evaluation classifier), self-BLEU against the source and G, on corpus form."""
        engine = self.fast_engine("fast-eval")
        res, accs, bleus = {}, [], []
        for s in (0, 1):
            outs = [h[0] for h in engine.generate(self.dev_natural[s], to=1 - s)]
            hyp = [normalize(o, self.language) for o in outs]
            pred = self.classifier.predict(hyp, normalized=True)
            acc = 100.0 * sum(int(p) == 1 - s for p in pred) / max(1, len(pred))
            bleu = self_bleu(hyp, self.dev[s], self.language)
            res[f"dev/acc_to{1 - s}"], res[f"dev/self_bleu_to{1 - s}"] = acc, bleu
            res[f"sample_to{1 - s}"] = f"{self.dev_natural[s][0]}  ->  {outs[0]}"
            accs.append(acc)
            bleus.append(bleu)
        acc, bleu = sum(accs) / 2, sum(bleus) / 2
        res.update({"dev/acc": acc, "dev/self_bleu": bleu, "dev/G": math.sqrt(max(acc, 0) * max(bleu, 0))})
        return res

    def evaluate_and_keep_best(self) -> None:
        res = self.evaluate()
        row = {
            "step": self.step,
            "minutes": round(self.seconds / 60, 2),
            **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()},
        }
        self.history.append(row)
        self.log(res)
        tqdm.write(json.dumps(row, ensure_ascii=False))
        if res["dev/G"] > self.best_g:
            self.best_g = res["dev/G"]
            self.save_model(self.out / "best", row)

    def save_model(self, folder: Path, dev_row: dict | None = None) -> None:
        """The model folder: config.json, adapter/, the discriminator and its SentencePiece model."""
        from safetensors.torch import save_file

        def extra(tmp: Path) -> None:
            save_file(
                {k: v.detach().contiguous() for k, v in self.disc.state_dict().items()},
                str(tmp / "discriminator.safetensors"),
                metadata={"format": "pt"},
            )
            shutil.copyfile(self.sp_file, tmp / "tokenizer.model")
            if dev_row:
                (tmp / "dev_eval.json").write_text(
                    json.dumps(dev_row, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
                )

        self.gens.save_pretrained(
            folder,
            config={
                "language": self.language,
                "max_length": self.max_length,
                "discriminator": asdict(self.disc.config),
            },
            extra=extra,
        )

    # ------------------------------------------------------------------ self-training
    def make_round_pairs(self, r: int) -> list[tuple[str, str, int]]:
        """This round's pseudo-pairs (x, y, t) from the current generators: the best candidate by
        the training reward among greedy and samples (fast copy), or with guidance rungs the
        least guided candidate that passes (`guided_choice`)."""
        tc = self.cfg.train
        engine = self.fast_engine("fast-round", seed=tc.seed * 1_000_003 + r)
        rng = random.Random(f"{tc.seed}-round-{r}")
        pairs, stats = [], {}
        for s in (0, 1):
            t = 1 - s
            src = rng.sample(self.train_text[s], min(tc.selftrain_sources, len(self.train_text[s])))
            if tc.selftrain_guidance:
                chosen, counts = self.guided_choice(engine, src, s, t)
                pairs += [(x, y, t) for x, y in zip(src, chosen) if y is not None]
                kept = sum(counts)
                for g, n in zip([1.0] + tc.selftrain_guidance, counts):
                    stats[f"selftrain/to{t}_at_guidance_{g:g}"] = n / max(1, len(src))
                if tc.selftrain_fluent_beam:
                    stats[f"selftrain/to{t}_at_fluent_beam"] = counts[-1] / max(1, len(src))
            else:
                greedy = engine.generate(src, to=t)
                sampled = (
                    engine.generate(
                        src, to=t, sample=True, temperature=tc.sample_temperature, num_hypotheses=tc.selftrain_samples
                    )
                    if tc.selftrain_samples
                    else [[] for _ in src]
                )
                cands = [g + h for g, h in zip(greedy, sampled)]
                k = 1 + tc.selftrain_samples
                flat = [y for c in cands for y in c]
                reward, style_prob, content, bad = self.score_candidates(
                    engine, flat, [x for x in src for _ in range(k)], s, t
                )
                best = best_candidates(
                    *(a.reshape(-1, k) for a in (reward, style_prob, content, bad)),
                    tc.selftrain_min_style,
                    tc.selftrain_min_content,
                )
                kept = int((best >= 0).sum())
                pairs += [(src[i], cands[i][best[i]], t) for i in np.flatnonzero(best >= 0)]
            stats[f"selftrain/kept_to{t}"] = kept / max(1, len(src))
        self.log(stats)
        tqdm.write(f"round {r}: " + ", ".join(f"{k.split('/')[-1]} {v:.2f}" for k, v in stats.items()))
        atomic_write_text(
            self.out / "selftrain" / f"round-{r}.json",
            json.dumps({"pairs": pairs, "stats": stats}, ensure_ascii=False) + "\n",
        )
        return pairs

    def score_candidates(self, engine, ys: list[str], xs: list[str], s: int, t: int):
        """(training reward, p(t | y), content reward, unusable) per candidate y of source x (style s)."""
        with torch.no_grad():
            self.disc.eval()
            logits = self.method.disc_logits(ys).numpy()
        content = np.asarray(content_reward(engine.logprobs(ys, xs, s)))
        reward = np.asarray(
            combine_rewards(
                style_reward(logits, t), content, self.cfg.train.style_weight, self.cfg.train.content_weight
            )
        )
        allow = not self.cfg.train.selftrain_reject_appends
        bad = np.array([not usable_rewrite(x, str(y), allow) for y, x in zip(ys, xs)])
        return reward, detected_style_probs(logits)[:, t], content, bad

    def guided_choice(self, engine, src: list[str], s: int, t: int) -> tuple[list, list[int]]:
        """Per source, its greedy rewrite if it passes the round's thresholds (style, content, and
        fluency with `selftrain_max_fluency_loss`), else the guided
        greedy rewrite of the first rung (`selftrain_guidance`) that passes, else (with
        `selftrain_fluent_beam` K) the most fluent of a K-beam's rewrites that passes, else None;
        and how many sources each rung (greedy first, the beam last) decided. Only the sources
        still open go up a rung."""
        tc = self.cfg.train
        chosen: list = [None] * len(src)
        open_ = list(range(len(src)))
        counts = []
        for g in [1.0] + tc.selftrain_guidance:
            xs = [src[i] for i in open_]
            if not xs:
                counts.append(0)
                continue
            ys = [h[0] for h in engine.generate(xs, to=t)] if g == 1.0 else self.guided(xs, s, t, g)
            reward, style_prob, content, bad = self.score_candidates(engine, ys, xs, s, t)
            one = lambda a: a.reshape(-1, 1)  # noqa: E731
            ok = (
                best_candidates(
                    one(reward),
                    one(style_prob),
                    one(content),
                    one(bad),
                    tc.selftrain_min_style,
                    tc.selftrain_min_content,
                )
                >= 0
            )
            if tc.selftrain_max_fluency_loss is not None:
                ok &= np.asarray(self.fluency_losses(xs, ys)) <= tc.selftrain_max_fluency_loss
            for i, y, passed in zip(open_, ys, ok):
                if passed:
                    chosen[i] = y
            counts.append(int(ok.sum()))
            open_ = [i for i, passed in zip(open_, ok) if not passed]
        if tc.selftrain_fluent_beam:
            counts.append(self.fluent_beam_choice(engine, src, open_, chosen, s, t))
        return chosen, counts

    def fluent_beam_choice(self, engine, src: list[str], open_: list[int], chosen: list, s: int, t: int) -> int:
        """The beam rung of `guided_choice`: for each source i in `open_`, chosen[i] becomes the
        passing beam rewrite with the lowest fluency loss, if any; returns how many it decided."""
        tc, k = self.cfg.train, self.cfg.train.selftrain_fluent_beam
        if not open_:
            return 0
        xs = [src[i] for i in open_ for _ in range(k)]
        beams = engine.generate([src[i] for i in open_], to=t, beam=k, num_hypotheses=k)
        ys = [str(h) for hyps in beams for h in (list(hyps) + [""] * k)[:k]]
        _, style_prob, content, bad = self.score_candidates(engine, ys, xs, s, t)
        loss = np.asarray(self.fluency_losses(xs, ys), dtype=float)
        if tc.selftrain_max_fluency_loss is not None:
            bad = bad | (loss > tc.selftrain_max_fluency_loss)
        rows = lambda a: a.reshape(len(open_), k)  # noqa: E731
        best = best_candidates(
            rows(-loss), rows(style_prob), rows(content), rows(bad), tc.selftrain_min_style, tc.selftrain_min_content
        )
        for row, (i, b) in enumerate(zip(open_, best)):
            if b >= 0:
                chosen[i] = ys[row * k + b]
        return int((best >= 0).sum())

    def fluency_losses(self, xs: list[str], ys: list[str]) -> list[float]:
        """Per source x and rewrite y: how much worse y reads than x under the pretrained base
        (`lm_pairs.fluency_loss`, nats per token): a content word swapped for a sentiment word
        ("we waited 45 great") reads worse; "terrible" -> "great" does not."""
        if self.fluency_lm is None:
            from ..evaluate.pretrained_lm import PretrainedLM

            self.fluency_lm = PretrainedLM.load(self.spec.base, threads=self.cfg.train.threads or 2)
        return fluency_loss(self.fluency_lm, list(zip(xs, ys)))

    def guided(self, xs: list[str], s: int, t: int, guidance: float) -> list[str]:
        """Greedy rewrites into t with style guidance away from s, on the torch generators."""
        n = self.cfg.train.guidance_batch
        self.gens.eval()
        out = []
        for b in tqdm(range(0, len(xs), n), desc=f"guidance {guidance:g} -> {t}", file=sys.stderr, leave=False):
            chunk = xs[b : b + n]
            out += [
                h[0] for h in self.gens.generate(chunk, [t] * len(chunk), guidance=guidance, away_from=[s] * len(chunk))
            ]
        return out

    def round_pairs_for(self, r: int) -> list[tuple[str, str, int]]:
        saved = self.out / "selftrain" / f"round-{r}.json"
        if saved.is_file():  # a resumed run trains on the same pairs
            return [tuple(p) for p in json.loads(saved.read_text(encoding="utf-8"))["pairs"]]
        return self.make_round_pairs(r)

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> None:
        models, states = self.method.checkpoint_parts()
        st = self.rng.getstate()
        info = {
            "best_g": self.best_g,
            "history": self.history[-2000:],
            "seconds": self.seconds,
            "selftrain_cut": self.schedule.cut_at,
            "data_rng": [st[0], list(st[1]), st[2]],
        }
        save_checkpoint(self.out / "checkpoints", self.step, models, states, info)
        prune_checkpoints(self.out / "checkpoints", self.cfg.train.keep_checkpoints)

    def _resume(self) -> None:
        from ..checkpoint import resume_latest

        models, states = self.method.checkpoint_parts()
        found = resume_latest(self.out / "checkpoints", models, states, log=tqdm.write)
        if found is None:
            return
        ckpt, info = found
        self.step, self.best_g, self.history = info["step"], info["best_g"], info["history"]
        self.seconds = info["seconds"]
        if info.get("selftrain_cut") is not None:  # a time-limit cut stays; more rounds in the config extend a run
            self.schedule.cut(int(info["selftrain_cut"]))
        a, b, c = info["data_rng"]
        self.rng.setstate((a, tuple(b), c))
        tqdm.write(f"resumed from {ckpt.name} (step {self.step})")

    # ------------------------------------------------------------------ the loop
    def log(self, logs: dict) -> None:
        for k, v in logs.items():
            if isinstance(v, (int, float)) and getattr(self, "writer", None) is not None:
                self.writer.add_scalar(k, v, self.step)

    def draw_pairs(self, pool: list, n: int) -> list[tuple[str, str, int]]:
        return [pool[self.rng.randrange(len(pool))] for _ in range(n)]

    def lexicon_pairs(self, n: int) -> list[tuple[str, str, int]]:
        """n denoising pairs (`lm_data.lexicon_pair`), half of each style."""
        tc, out = self.cfg.train, []
        while len(out) < n:
            s = len(out) % 2
            y = self.train_corpus[s][self.rng.randrange(len(self.train_corpus[s]))]
            pair = lexicon_pair(y, s, self.lexicon, self.rng, tc.word_drop, tc.shuffle_window, self.language)
            if pair:
                out.append(pair)
        return out

    def train_step(self) -> tuple[str, dict]:
        tc, sch = self.cfg.train, self.schedule
        phase, r = sch.phase(self.step)
        self.method.set_lr(sch.lr * sch.lr_factor(self.step))
        if phase == "warm" and tc.warm_start == "lexicon":
            return phase, self.method.pair_step(self.lexicon_pairs(tc.batch_size), cycle=False)
        if phase == "warm":
            return phase, self.method.pair_step(self.draw_pairs(self.pairs, tc.batch_size))
        if phase == "selftrain":
            if r != self.round:
                self.round, self.round_pairs = r, self.round_pairs_for(r)
            if not self.round_pairs:
                return phase, {}
            return phase, self.method.pair_step(self.draw_pairs(self.round_pairs, tc.batch_size))
        sources = {
            s: [self.train_text[s][self.rng.randrange(len(self.train_text[s]))] for _ in range(tc.rl_sources)]
            for s in (0, 1)
        }
        return phase, self.method.rl_step(sources, tc.num_samples, tc.sample_temperature)

    def cut_by_time(self) -> bool:
        """With a time limit: stop self-training early so the RL phase still fits (the run's call)."""
        tc, sch = self.cfg.train, self.schedule
        if not tc.time_limit_minutes:
            return False
        phase, r = sch.phase(self.step)
        left = 60 * tc.time_limit_minutes - self.seconds
        if phase == "selftrain" and (self.step - sch.warm_steps) % sch.round_steps == 0 and r > 0:
            per_step = self.seconds / max(1, self.step)
            if left < per_step * (sch.round_steps + sch.rl_steps):
                sch.cut(r)
                tqdm.write(f"time limit: self-training ends after {r} rounds so the RL phase fits")
        return left <= 0

    def run(self) -> dict:
        tc = self.cfg.train
        bar = tqdm(total=self.schedule.total, initial=self.step, desc="train", dynamic_ncols=True)
        stopped = False
        while self.step < self.schedule.total:
            if self.cut_by_time():
                stopped = True
                break
            bar.total = self.schedule.total
            t0 = time.time()
            phase, logs = self.train_step()
            self.seconds += time.time() - t0
            self.step += 1
            bar.update(1)
            if self.step % tc.log_every == 0:
                self.log(logs)
                self.history.append(
                    {
                        "step": self.step,
                        "phase": phase,
                        **{k: round(v, 4) for k, v in logs.items() if isinstance(v, float)},
                    }
                )
            if self.step % tc.eval_every == 0 or self.step == self.schedule.total:
                self.evaluate_and_keep_best()
            if self.step % tc.save_every == 0 or self.step == self.schedule.total:
                self.save()
        bar.close()
        if stopped and self.step % tc.eval_every:
            self.evaluate_and_keep_best()
        self.save_model(self.out / "final")
        for tmp in ("fast-eval", "fast-round"):
            shutil.rmtree(self.out / tmp, ignore_errors=True)
        summary = {
            "steps": self.step,
            "train_seconds": round(self.seconds, 1),
            "best_dev_G": self.best_g,
            "warm_steps": tc.warm_steps,
            "selftrain_rounds": self.schedule.rounds,
            "selftrain_steps": tc.selftrain_steps,
            "stopped_by_time_limit": stopped,
        }
        atomic_write_text(self.out / "train_summary.json", json.dumps(summary, indent=1) + "\n")
        plot_curves(self.history, self.out / "curves.png", PANELS)
        self.writer.close()
        return summary


@entry_point
def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m textcycle.text.lm_train", description=__doc__.split("\n\n")[0])
    add_config_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir")
    args = p.parse_args(argv)
    cfg = validate_lm_config(load_config(args.config, LMRecipe, args.overrides))
    out = Path(cfg.train.output_dir)
    if out.exists() and not out.is_dir():
        raise TextcycleError(f"train.output_dir {out} is a file, not a folder")
    if latest_checkpoint(out / "checkpoints") and not args.resume:
        raise TextcycleError(f"{out} holds a run: pass --resume to continue it, or pick another train.output_dir")
    saved = out / "config.yaml"
    if args.resume and saved.is_file() and saved.read_text(encoding="utf-8") != config_yaml(cfg):
        tqdm.write("note: the config differs from the run's saved config.yaml; the new one is used")
    LMTrainingRun(cfg, resume=args.resume).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
