"""Training: warm start (denoising + back-translation), then cycle-RL. Runs under accelerate.

    python -m textcycle.train --config configs/yelp.yaml
    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no \
        --dynamo_backend no -m textcycle.train --config configs/yelp.yaml   # 2 CPU processes
    python -m textcycle.train --config configs/yelp.yaml --resume            # after a kill

generators[t] rewrites into style t (generators[1] = G_xy: 0 -> 1, generators[0] = G_yx).
One "step" updates both generators and the discriminator:
- warm start (step < warm_steps): for each target style t, a real sentence y of style t is
  noised (its style markers swapped for the other style's, words dropped, masked, shuffled) and
  generators[t] learns noised -> y; from `bt_start` on, also back-translation pairs
  (generators[1-t](y) -> y). Never plain copy pairs.
- cycle-RL: for each source x of style s, K samples from generators[t] (t = 1-s) are rewarded
  with the harmonic mean of p_D(t | sample) and the back-translation content reward
  exp(mean log p(x | sample) under generators[s]); a baseline is subtracted; REINFORCE on the
  samples' log-probabilities. generators[s] also learns sample -> x (supervised back-translation).
- the discriminator learns {style 0, style 1, generated} on real sentences and fresh samples.
The two generators share their embedding and are called through `decode`, so gradients are
averaged across processes explicitly (`sync_gradients`) instead of through a DDP wrapper.
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
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from .checkpoint import latest_checkpoint, load_checkpoint, prune_checkpoints, save_checkpoint
from .config import TextCycleConfig, load_config, save_config
from .corpus import load_corpus
from .errors import TextcycleError
from .model import TextCycleModel
from .models.discriminator import GENERATED, StyleDiscriminator, StyleDiscriminatorConfig
from .models.generator import build_generator, decode, sequence_logprobs, share_embeddings, token_loss
from .rl import (combine_rewards, content_reward, mean_baseline, noise_words, reinforce_loss,
                 style_lexicon, swap_markers)
from .textnorm import decoded_to_corpus_form, zh_script
from .tokenizer import EOS_ID, PAD_ID, UNK_ID, TextcycleTokenizer, train_tokenizer


def pad_batch(seqs: list[list[int]], device) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids.to(device), (ids != PAD_ID).long().to(device)


def trim(ids: torch.Tensor) -> list[list[int]]:
    """Rows of a padded id tensor as lists without padding."""
    return [[int(t) for t in row if t != PAD_ID] for row in ids.cpu()]


def sync_gradients(params, accelerator: Accelerator) -> None:
    """Average gradients over processes (what DDP would do), one all-reduce per tensor."""
    if accelerator.num_processes == 1:
        return
    import torch.distributed as dist

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= accelerator.num_processes


class Trainer:
    def __init__(self, cfg: TextCycleConfig, accelerator: Accelerator):
        self.cfg, self.acc = cfg, accelerator
        tc = cfg.train
        self.out = Path(tc.output_dir)
        self.device = accelerator.device
        self.rng = random.Random(tc.seed + 1000 * accelerator.process_index)

        corpus = load_corpus(cfg.data)
        self.corpus = corpus
        tok_dir = self.out / "tokenizer"
        if accelerator.is_main_process and not (tok_dir / "tokenizer.model").is_file():
            train_tokenizer(corpus.train[0] + corpus.train[1], tok_dir, cfg.tokenizer.vocab_size,
                            cfg.tokenizer.model_type, cfg.tokenizer.character_coverage)
        accelerator.wait_for_everyone()
        self.tok = TextcycleTokenizer.from_dir(tok_dir)
        L = cfg.tokenizer.max_length
        self.train_ids = [self.tok.encode_fast(corpus.train[s], L) for s in (0, 1)]
        # Noise and marker swaps work on words; Chinese has no spaces, so there the units are the
        # tokenizer's pieces (ids), which BPE makes into frequent words such as 服务 or 不错.
        self.piece_units = cfg.data.language == "zh"
        if self.piece_units:
            sp = self.tok.sp_model
            lex = style_lexicon(*(
                [" ".join(p) for p in sp.encode(corpus.train[s], out_type=str)] for s in (0, 1)))
            lex = tuple([sp.piece_to_id(w) for w in side] for side in lex)
        else:
            lex = style_lexicon(corpus.train[0], corpus.train[1])
        self.lex_set = [set(lex[0]), set(lex[1])]
        self.lex = lex
        # the script of the training text, recorded in saved models so the rewriter can convert
        self.script = zh_script(corpus.train[0][:2500] + corpus.train[1][:2500]) if self.piece_units else None

        vocab = len(self.tok)
        self.gens = [build_generator(cfg.generator, vocab), build_generator(cfg.generator, vocab)]
        if cfg.generator.share_embeddings:
            share_embeddings(self.gens[1], self.gens[0])
        dc = cfg.discriminator
        self.disc = StyleDiscriminator(StyleDiscriminatorConfig(
            vocab_size=vocab, d_model=dc.d_model, layers=dc.layers, heads=dc.heads, ffn_dim=dc.ffn_dim,
            dropout=dc.dropout, max_length=max(64, L + 8)))
        for m in (*self.gens, self.disc):
            m.to(self.device).train()
        seen, self.gen_params = set(), []
        for g in self.gens:
            for p in g.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    self.gen_params.append(p)
        self.opt_g = torch.optim.AdamW(self.gen_params, lr=tc.lr, betas=(0.9, 0.98), weight_decay=0.01)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr=dc.lr, betas=(0.9, 0.98))
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt_g, self.lr_factor)
        self.step = 0
        self.started, self.seconds_before = time.time(), 0.0
        self.best_g = -1.0
        self.history: list[dict] = []
        self.writer = None
        if accelerator.is_main_process:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tensorboard"))
        self.eval_classifier = self._load_eval_classifier()

    # ------------------------------------------------------------ schedule
    def lr_factor(self, step: int) -> float:
        tc = self.cfg.train
        if step < tc.warm_steps:
            return min(1.0, (step + 1) / max(1, tc.warmup_steps))
        return tc.rl_lr / tc.lr

    @property
    def total_steps(self) -> int:
        return self.cfg.train.warm_steps + self.cfg.train.rl_steps

    # ------------------------------------------------------------ data
    def batch(self, style: int, n: int) -> list[list[int]]:
        pool = self.train_ids[style]
        return [pool[self.rng.randrange(len(pool))] for _ in range(n)]

    def noised(self, ids: list[int], style: int) -> list[int]:
        tc = self.cfg.train
        if self.piece_units:
            pieces = [i for i in ids if i != EOS_ID]
            pieces = swap_markers(pieces, self.lex_set[style], self.lex[1 - style], self.rng)
            pieces = noise_words(pieces, self.rng, tc.word_drop, tc.word_mask, tc.shuffle_window,
                                 mask_token=UNK_ID)
            return pieces[: self.cfg.tokenizer.max_length - 1] + [EOS_ID]
        words = self.tok.decode_fast([ids])[0].split()
        words = swap_markers(words, self.lex_set[style], self.lex[1 - style], self.rng)
        words = noise_words(words, self.rng, tc.word_drop, tc.word_mask, tc.shuffle_window)
        return self.tok.encode_fast([" ".join(words)], self.cfg.tokenizer.max_length)[0]

    # ------------------------------------------------------------ steps
    def autocast(self):
        return self.acc.autocast()

    def warm_step(self) -> dict:
        tc, dev = self.cfg.train, self.device
        logs = {}
        loss = 0.0
        fakes = []
        for t in (0, 1):
            ys = self.batch(t, tc.batch_size)
            src, src_mask = pad_batch([self.noised(y, t) for y in ys], dev)
            tgt, _ = pad_batch(ys, dev)
            with self.autocast():
                dae = token_loss(self.gens[t], src, src_mask, tgt)
            loss = loss + dae
            logs[f"warm/dae_to{t}"] = dae.item()
            if self.step >= tc.bt_start:
                ys = self.batch(t, tc.batch_size)
                y, y_mask = pad_batch(ys, dev)
                with self.autocast():
                    fake = decode(self.gens[1 - t], y, y_mask, tc.max_new_tokens)
                fakes.append((fake, 1 - t))
                f_mask = (fake != PAD_ID).long()
                with self.autocast():
                    bt = token_loss(self.gens[t], fake, f_mask, y)
                loss = loss + tc.bt_weight * bt
                logs[f"warm/bt_to{t}"] = bt.item()
        self.update_generators(loss)
        logs.update(self.disc_step(fakes))
        return logs

    def rl_step(self) -> dict:
        tc, dev = self.cfg.train, self.device
        K = tc.num_samples
        B = max(1, tc.batch_size // K)
        logs, loss, fakes = {}, 0.0, []
        for s in (0, 1):
            t = 1 - s
            xs = self.batch(s, B)
            x, x_mask = pad_batch(xs, dev)
            with self.autocast():
                samples = decode(self.gens[t], x, x_mask, tc.max_new_tokens, sample=True,
                                 temperature=tc.sample_temperature, num_samples=K)
            x_rep, xm_rep = x.repeat_interleave(K, 0), x_mask.repeat_interleave(K, 0)
            s_mask = (samples != PAD_ID).long()
            reward = self.reward(samples, s_mask, x_rep, t, s)
            if tc.baseline == "greedy":
                with self.autocast():
                    greedy = decode(self.gens[t], x, x_mask, tc.max_new_tokens)
                g_r = self.reward(greedy, (greedy != PAD_ID).long(), x, t, s)
                base = g_r.repeat_interleave(K, 0)
            else:
                base = mean_baseline(reward, K)
            with self.autocast():
                logp = sequence_logprobs(self.gens[t], x_rep, xm_rep, samples)
                rl = reinforce_loss(logp, reward, base)
                # cycle: the other generator learns sample -> source (supervised back-translation)
                bt = token_loss(self.gens[s], samples, s_mask, x_rep)
            loss = loss + tc.rl_weight * rl + tc.bt_weight * bt
            if tc.dae_weight > 0:
                ys = self.batch(t, B)
                src, src_mask = pad_batch([self.noised(y, t) for y in ys], dev)
                tgt, _ = pad_batch(ys, dev)
                with self.autocast():
                    loss = loss + tc.dae_weight * token_loss(self.gens[t], src, src_mask, tgt)
            fakes.append((samples[::K], t))
            logs[f"rl/reward_to{t}"] = reward.mean().item()
            logs[f"rl/style_acc_to{t}"] = self._last_style_acc
            logs[f"rl/content_to{t}"] = self._last_content
            logs[f"rl/bt_to{s}"] = bt.item()
            logs[f"rl/pg_to{t}"] = rl.item()
        self.update_generators(loss)
        logs.update(self.disc_step(fakes))
        return logs

    @torch.no_grad()
    def reward(self, samples, s_mask, x, t: int, s: int) -> torch.Tensor:
        tc = self.cfg.train
        with self.autocast():
            probs = torch.softmax(self.disc(samples).float(), -1)
            recon = sequence_logprobs(self.gens[s], samples, s_mask, x, normalize=True).float()
        style = probs[:, t]
        content = content_reward(recon)
        self._last_style_acc = (probs[:, :2].argmax(-1) == t).float().mean().item()
        self._last_content = content.mean().item()
        return combine_rewards(style, content, tc.style_weight, tc.content_weight)

    def update_generators(self, loss) -> None:
        tc = self.cfg.train
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        sync_gradients(self.gen_params, self.acc)
        torch.nn.utils.clip_grad_norm_(self.gen_params, tc.max_grad_norm)
        self.opt_g.step()
        self.sched.step()

    def disc_step(self, fakes) -> dict:
        tc = self.cfg.train
        logs = {}
        for _ in range(tc.disc_steps):
            n = tc.batch_size // 2
            seqs, labels = [], []
            for s in (0, 1):
                b = self.batch(s, n)
                seqs += b
                labels += [s] * len(b)
            real, _ = pad_batch(seqs, self.device)
            batches = [(real, torch.tensor(labels, device=self.device))]
            for fake, _t in fakes:
                batches.append((fake, torch.full((fake.size(0),), GENERATED, device=self.device)))
            loss = 0.0
            with self.autocast():
                for ids, lab in batches:
                    loss = loss + F.cross_entropy(self.disc(ids).float(), lab)
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
            sync_gradients(list(self.disc.parameters()), self.acc)
            torch.nn.utils.clip_grad_norm_(self.disc.parameters(), 1.0)
            self.opt_d.step()
            logs["disc/loss"] = loss.item()
        return logs

    # ------------------------------------------------------------ evaluation
    def _load_eval_classifier(self):
        """The independent evaluation classifier, where one exists for this corpus."""
        from .evaluate.classifier import StyleClassifier
        from .evaluate.paths import DEFAULT_CLASSIFIER

        path = self.cfg.train.eval_classifier
        if path is None and self.cfg.data.source != "yelp_shared":
            return None  # the bundled classifier only knows Yelp sentiment
        try:
            return StyleClassifier.load(path or DEFAULT_CLASSIFIER)
        except TextcycleError as e:
            print(f"warning: {e}; dev accuracy falls back to the discriminator")
            return None

    @torch.no_grad()
    def transfer(self, sents: list[str], to: int, bs: int = 128) -> list[str]:
        out = []
        g = self.gens[to]
        for i in range(0, len(sents), bs):
            ids = self.tok.encode_fast(sents[i:i + bs], self.cfg.tokenizer.max_length)
            x, m = pad_batch(ids, self.device)
            with self.autocast():
                y = decode(g, x, m, self.cfg.train.max_new_tokens)
            out += self.tok.decode_fast(trim(y))
        return decoded_to_corpus_form(out, self.cfg.data.language)

    @torch.no_grad()
    def evaluate(self) -> dict:
        import sacrebleu

        n = self.cfg.train.eval_sentences
        res = {}
        accs, bleus = [], []
        for s in (0, 1):
            src = self.corpus.dev[s][:n]
            if not src:
                continue
            hyp = self.transfer(src, 1 - s)
            if self.eval_classifier is not None:
                pred = self.eval_classifier.predict(hyp, normalized=True)
                judge = "eval_classifier"
            else:
                ids, _ = pad_batch(self.tok.encode_fast(hyp, self.cfg.tokenizer.max_length), self.device)
                pred = self.disc(ids)[:, :2].argmax(-1).tolist()
                judge = "discriminator"
            acc = 100.0 * sum(int(p) == 1 - s for p in pred) / len(pred)
            # corpus form is tokenised for English; Chinese has no spaces, so sacrebleu's zh tokenizer
            tokenize = "zh" if self.cfg.data.language == "zh" else "none"
            bleu = sacrebleu.corpus_bleu(hyp, [src], tokenize=tokenize, force=True).score
            res[f"dev/acc_to{1 - s}"], res[f"dev/self_bleu_to{1 - s}"] = acc, bleu
            accs.append(acc)
            bleus.append(bleu)
            res[f"sample_to{1 - s}"] = f"{src[0]}  ->  {hyp[0]}"
        acc, bleu = sum(accs) / len(accs), sum(bleus) / len(bleus)
        res.update({"dev/acc": acc, "dev/self_bleu": bleu, "dev/G": math.sqrt(max(acc, 0) * max(bleu, 0)),
                    "dev/judge": judge})
        return res

    # ------------------------------------------------------------ checkpoints
    def model(self) -> TextCycleModel:
        return TextCycleModel(self.gens, self.disc, self.tok, self.corpus.style_names,
                              self.cfg.data.language, self.cfg.tokenizer.max_length, self.script)

    def save(self) -> None:
        if self.acc.is_main_process:
            st = self.rng.getstate()
            info = {"best_g": self.best_g, "history": self.history[-2000:], "train_seconds": self.train_seconds(),
                    "data_rng": [st[0], list(st[1]), st[2]]}
            save_checkpoint(self.out / "checkpoints", self.step,
                            {"gen0": self.gens[0], "gen1": self.gens[1], "disc": self.disc},
                            {"opt_g": self.opt_g, "opt_d": self.opt_d, "sched": self.sched}, info)
            prune_checkpoints(self.out / "checkpoints", self.cfg.train.keep_checkpoints)
        self.acc.wait_for_everyone()

    def resume(self) -> bool:
        ckpt = latest_checkpoint(self.out / "checkpoints")
        if ckpt is None:
            return False
        info = load_checkpoint(ckpt, {"gen0": self.gens[0], "gen1": self.gens[1], "disc": self.disc},
                               {"opt_g": self.opt_g, "opt_d": self.opt_d, "sched": self.sched})
        if self.cfg.generator.share_embeddings:
            share_embeddings(self.gens[1], self.gens[0])
        self.step = info["step"]
        self.seconds_before = info.get("train_seconds", 0.0)
        self.best_g = info.get("best_g", -1.0)
        self.history = info.get("history", [])
        if self.acc.is_main_process and "data_rng" in info:
            st = info["data_rng"]
            self.rng.setstate((st[0], tuple(st[1]), st[2]))
        else:  # other processes: a fresh stream that depends on the step, so no batch repeats
            self.rng = random.Random(f"{self.cfg.train.seed}-{self.acc.process_index}-{self.step}")
        return True

    def train_seconds(self) -> float:
        """Wall time spent training, over all resumed runs."""
        return self.seconds_before + time.time() - self.started

    # ------------------------------------------------------------ loop
    def log(self, logs: dict) -> None:
        if self.writer is None:
            return
        for k, v in logs.items():
            if isinstance(v, (int, float)):
                self.writer.add_scalar(k, v, self.step)

    def run(self) -> None:
        tc = self.cfg.train
        bar = tqdm(total=self.total_steps, initial=self.step, desc="train", disable=not self.acc.is_main_process,
                   dynamic_ncols=True)
        t0, n0 = time.time(), self.step
        while self.step < self.total_steps:
            phase = "warm" if self.step < tc.warm_steps else "rl"
            logs = self.warm_step() if phase == "warm" else self.rl_step()
            self.step += 1
            bar.update(1)
            if self.step % tc.log_every == 0 or self.step == self.total_steps:
                rate = (self.step - n0) / max(1e-9, time.time() - t0)
                logs["speed/steps_per_s"] = rate
                logs = {k: v for k, v in logs.items()}
                self.log(logs)
                row = {"step": self.step, "phase": phase, **{k: round(v, 4) for k, v in logs.items()
                                                             if isinstance(v, float)}}
                self.history.append(row)
                bar.set_postfix({k.split("/")[-1]: f"{v:.3f}" for k, v in logs.items()
                                 if k.startswith(("warm/dae", "rl/reward", "rl/style"))})
            if self.step % tc.eval_every == 0 or self.step == self.total_steps:
                self.evaluate_and_keep_best()
            if self.step % tc.save_every == 0 or self.step == self.total_steps:
                self.save()
        bar.close()
        if self.acc.is_main_process:
            self.model().save_pretrained(self.out / "final")
            summary = {"steps": self.step, "warm_steps": tc.warm_steps, "rl_steps": tc.rl_steps,
                       "processes": self.acc.num_processes, "device": str(self.device),
                       "train_seconds": round(self.train_seconds(), 1), "best_dev_G": self.best_g}
            (self.out / "train_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
            from .plots import plot_history

            plot_history(self.history, self.out / "curves.png")
            if self.writer:
                self.writer.close()

    def evaluate_and_keep_best(self) -> None:
        if self.acc.is_main_process:
            res = self.evaluate()
            self.log(res)
            row = {"step": self.step, **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()}}
            self.history.append(row)
            tqdm.write(json.dumps(row, ensure_ascii=False))
            if self.step > self.cfg.train.warm_steps // 2 and res["dev/G"] > self.best_g:
                self.best_g = res["dev/G"]
                self.model().save_pretrained(self.out / "best")
                (self.out / "best" / "dev_eval.json").write_text(json.dumps(row, indent=1, ensure_ascii=False))
        self.acc.wait_for_everyone()


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m textcycle.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config (see configs/)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in output_dir")
    p.add_argument("--output-dir", help="overrides train.output_dir")
    p.add_argument("-o", "--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. -o train.rl_steps=500 (repeatable)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        overrides = list(args.set)
        if args.output_dir:
            overrides.append(f"train.output_dir={args.output_dir}")
        cfg = load_config(args.config, TextCycleConfig, overrides)
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
        if accelerator.is_main_process:
            out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, out / "config.yaml")
        if not args.resume and latest_checkpoint(out / "checkpoints") is not None:
            raise TextcycleError(f"{out} already has checkpoints: pass --resume to continue, or pick another output dir")
        trainer = Trainer(cfg, accelerator)
        if args.resume:
            if trainer.resume():
                accelerator.print(f"resumed from step {trainer.step}")
            else:
                accelerator.print("no checkpoint found; starting from scratch")
        accelerator.print(trainer.corpus.summary())
        accelerator.print(f"{accelerator.num_processes} process(es) on {accelerator.device}")
        trainer.run()
        accelerator.print(f"done: {trainer.step} steps; model in {out / 'final'} (best by dev G in {out / 'best'})")
        return 0
    except TextcycleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
