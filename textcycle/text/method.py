"""The text method: two generators, the discriminator, their optimisers and one update of each phase.

generators[t] rewrites into style t (generators[1] = G_xy: 0 -> 1, generators[0] = G_yx).
One step updates both generators and then the discriminator:
- warm start (`warm_step`): for each target style t, a real sentence y of style t is noised (its
  style markers swapped for the other style's, words dropped, masked, shuffled) and
  generators[t] learns noised -> y; from `bt_start` on, also back-translation pairs
  (generators[1-t](y) -> y). Never plain copy pairs.
- self-training (`selftrain_step`): on pseudo-pairs (x of style s, y in style t) that the run
  made with `textcycle.selftrain.make_pairs` (the best-rewarded of several candidates from the
  latest generators), generators[t] learns x -> y and generators[s] learns y -> x; plus the
  same denoising as in RL.
- cycle-RL (`rl_step`): for each source x of style s, K samples from generators[t] (t = 1-s) get
  the training reward (`rl.training_reward`: harmonic mean of p_D(t | sample) and the
  back-translation content reward exp(mean log p(x | sample) under generators[s])); a baseline
  is subtracted; REINFORCE on the samples' log-probabilities. generators[s] also learns
  sample -> x (supervised back-translation), and some denoising keeps fluency.
- the discriminator (`disc_step`) learns {style 0, style 1, generated} on real sentences and the
  step's fresh samples.
The run around it (data, evaluation, checkpoints, logging) is `textcycle.train`; it hands the
method a `draw(style, n)` function that samples training sentences as token ids, and its
`Schedule` (`textcycle.schedule`: phases, learning rates, the time-limit cut), which the method
reads and never changes.
The two generators share their embedding and are called through `decode`, so gradients are
averaged across processes explicitly (`sync_gradients`) instead of through a DDP wrapper.
"""

from __future__ import annotations

import itertools
import random
from typing import Callable

import torch
import torch.nn.functional as F

from .config import TextCycleConfig
from .model import TextCycleModel
from .networks import (
    GENERATED,
    StyleDiscriminator,
    StyleDiscriminatorConfig,
    build_generator,
    decode,
    pad_batch,
    sequence_logprobs,
    share_embeddings,
    token_loss,
)
from .noise import noise_words, style_lexicon, swap_markers
from .reward import content_reward, training_reward
from .rl import mean_baseline, reinforce_loss
from .schedule import Schedule
from .tokenizer import EOS_ID, PAD_ID, UNK_ID, TextcycleTokenizer


def sync_gradients(params, accelerator) -> None:
    """Average gradients over processes (what DDP would do), one all-reduce per tensor."""
    if accelerator.num_processes == 1:
        return
    import torch.distributed as dist

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= accelerator.num_processes


class TextCycleGAN:
    """The networks and optimisers of the text method, and its three kinds of update."""

    def __init__(
        self,
        cfg: TextCycleConfig,
        tokenizer: TextcycleTokenizer,
        train_text: list[list[str]],
        accelerator,
        draw: Callable[[int, int], list[list[int]]],
        rng: random.Random,
        schedule: Schedule | None = None,
    ):
        self.cfg, self.acc, self.tok = cfg, accelerator, tokenizer
        self.schedule = schedule or Schedule.from_config(cfg.train)
        self.device = accelerator.device
        self.draw, self.rng = draw, rng
        self.step = 0  # set by the run before each update (bt_start and the LR schedule need it)
        tc, dc = cfg.train, cfg.discriminator
        # Noise and marker swaps work on words; Chinese has no spaces, so there the units are the
        # tokenizer's pieces (ids), which BPE makes into frequent words such as 服务 or 不错.
        self.piece_units = cfg.data.language == "zh"
        if self.piece_units:
            sp = tokenizer.sp_model
            lex = style_lexicon(
                *([" ".join(p) for p in sp.encode(train_text[s], out_type=str)] for s in (0, 1)), ratio=tc.lexicon_ratio
            )
            lex = tuple({sp.piece_to_id(w): n for w, n in side.items()} for side in lex)
        else:
            lex = style_lexicon(train_text[0], train_text[1], ratio=tc.lexicon_ratio)
        self.lex, self.lex_set = [list(side) for side in lex], [set(side) for side in lex]
        # the replacement markers' cumulative counts, when drawn as often as real text has them
        self.lex_weights = (
            [list(itertools.accumulate(side.values())) for side in lex]
            if tc.marker_sampling == "frequency"
            else [None, None]
        )

        vocab = len(tokenizer)
        self.gens = [build_generator(cfg.generator, vocab), build_generator(cfg.generator, vocab)]
        if cfg.generator.share_embeddings:
            share_embeddings(self.gens[1], self.gens[0])
        self.disc = StyleDiscriminator(
            StyleDiscriminatorConfig(
                vocab_size=vocab,
                d_model=dc.d_model,
                layers=dc.layers,
                heads=dc.heads,
                ffn_dim=dc.ffn_dim,
                dropout=dc.dropout,
                max_length=max(64, cfg.tokenizer.max_length + 8),
            )
        )
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
        self._last_style_acc = self._last_content = 0.0
        self.pairs: list[list[tuple[list[int], list[int]]]] = [[], []]  # this round's pseudo-pairs, by target

    # ------------------------------------------------------------ schedule
    def lr_factor(self, step: int) -> float:
        """The schedule's learning-rate factor (warm-up, then self-training, then RL)."""
        return self.schedule.lr_factor(step)

    def refresh_lr(self) -> None:
        """Set the generators' learning rate for the scheduler's step from the schedule: after a
        resume (a checkpoint stores the rate of its own config) or when the run cuts
        self-training short, so the next step already uses the new phase's rate."""
        factor = self.lr_factor(self.sched.last_epoch)
        for group, base in zip(self.opt_g.param_groups, self.sched.base_lrs):
            group["lr"] = base * factor

    # ------------------------------------------------------------ warm-start noise
    def noised(self, ids: list[int], style: int) -> list[int]:
        """A real sentence of `style` made to look like the other style, then DAE-noised."""
        tc = self.cfg.train
        if self.piece_units:
            pieces = [i for i in ids if i != EOS_ID]
            pieces = swap_markers(
                pieces, self.lex_set[style], self.lex[1 - style], self.rng, cum_weights=self.lex_weights[1 - style]
            )
            pieces = noise_words(pieces, self.rng, tc.word_drop, tc.word_mask, tc.shuffle_window, mask_token=UNK_ID)
            return pieces[: self.cfg.tokenizer.max_length - 1] + [EOS_ID]
        words = self.tok.decode_fast([ids])[0].split()
        words = swap_markers(
            words, self.lex_set[style], self.lex[1 - style], self.rng, cum_weights=self.lex_weights[1 - style]
        )
        words = noise_words(words, self.rng, tc.word_drop, tc.word_mask, tc.shuffle_window)
        return self.tok.encode_fast([" ".join(words)], self.cfg.tokenizer.max_length)[0]

    def autocast(self):
        return self.acc.autocast()

    # ------------------------------------------------------------ updates
    def warm_step(self) -> dict:
        tc, dev = self.cfg.train, self.device
        logs, loss, fakes = {}, 0.0, []
        for t in (0, 1):
            dae = self.denoising_loss(t, tc.batch_size)
            loss = loss + dae
            logs[f"warm/dae_to{t}"] = dae.item()
            if self.step >= tc.bt_start:
                ys = self.draw(t, tc.batch_size)
                y, y_mask = pad_batch(ys, dev)
                with self.autocast():
                    fake = decode(self.gens[1 - t], y, y_mask, tc.max_new_tokens)
                fakes.append((fake, 1 - t))
                with self.autocast():
                    bt = token_loss(self.gens[t], fake, (fake != PAD_ID).long(), y)
                loss = loss + tc.bt_weight * bt
                logs[f"warm/bt_to{t}"] = bt.item()
        self.update_generators(loss)
        logs.update(self.disc_step(fakes))
        return logs

    def denoising_loss(self, t: int, n: int):
        """DAE loss of generators[t] on n noised real sentences of style t (keeps fluency)."""
        ys = self.draw(t, n)
        src, src_mask = pad_batch([self.noised(y, t) for y in ys], self.device)
        tgt, _ = pad_batch(ys, self.device)
        with self.autocast():
            return token_loss(self.gens[t], src, src_mask, tgt)

    def selftrain_step(self) -> dict:
        tc, dev = self.cfg.train, self.device
        logs, loss, fakes = {}, 0.0, []
        for t in (0, 1):
            s, pool = 1 - t, self.pairs[t]
            if not pool:
                continue
            batch = [pool[self.rng.randrange(len(pool))] for _ in range(tc.batch_size)]
            x, x_mask = pad_batch([a for a, _ in batch], dev)
            y, y_mask = pad_batch([b for _, b in batch], dev)
            with self.autocast():
                fwd = token_loss(self.gens[t], x, x_mask, y)  # the pseudo-pair: source -> best rewrite
                bt = token_loss(self.gens[s], y, y_mask, x)  # and its back-translation
            loss = loss + fwd + tc.bt_weight * bt
            if tc.dae_weight > 0:
                loss = loss + tc.dae_weight * self.denoising_loss(t, tc.batch_size // 2)
            fakes.append((y[: tc.batch_size // 2], t))
            logs[f"selftrain/pair_to{t}"] = fwd.item()
            logs[f"selftrain/bt_to{s}"] = bt.item()
        if not fakes:
            return logs
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
            x, x_mask = pad_batch(self.draw(s, B), dev)
            with self.autocast():
                samples = decode(
                    self.gens[t],
                    x,
                    x_mask,
                    tc.max_new_tokens,
                    sample=True,
                    temperature=tc.sample_temperature,
                    num_samples=K,
                )
            x_rep, xm_rep = x.repeat_interleave(K, 0), x_mask.repeat_interleave(K, 0)
            s_mask = (samples != PAD_ID).long()
            reward = self.reward(samples, s_mask, x_rep, t, s)
            if tc.baseline == "greedy":
                with self.autocast():
                    greedy = decode(self.gens[t], x, x_mask, tc.max_new_tokens)
                base = self.reward(greedy, (greedy != PAD_ID).long(), x, t, s).repeat_interleave(K, 0)
            else:
                base = mean_baseline(reward, K)
            with self.autocast():
                logp = sequence_logprobs(self.gens[t], x_rep, xm_rep, samples)
                rl = reinforce_loss(logp, reward, base)
                # cycle: the other generator learns sample -> source (supervised back-translation)
                bt = token_loss(self.gens[s], samples, s_mask, x_rep)
            loss = loss + tc.rl_weight * rl + tc.bt_weight * bt
            if tc.dae_weight > 0:
                loss = loss + tc.dae_weight * self.denoising_loss(t, B)
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
        """The training reward of rewrites `samples` of sources `x` (style s) into style t."""
        tc = self.cfg.train
        with self.autocast():
            logits = self.disc(samples).float()
            recon = sequence_logprobs(self.gens[s], samples, s_mask, x, normalize=True).float()
        r = training_reward(logits, recon, t, tc.style_weight, tc.content_weight)
        self._last_style_acc = (logits[:, :2].argmax(-1) == t).float().mean().item()
        self._last_content = content_reward(recon).mean().item()
        return r

    def update_generators(self, loss) -> None:
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        sync_gradients(self.gen_params, self.acc)
        torch.nn.utils.clip_grad_norm_(self.gen_params, self.cfg.train.max_grad_norm)
        self.opt_g.step()
        self.sched.step()

    def disc_step(self, fakes) -> dict:
        """Real sentences of both styles (labels 0, 1) against fresh generated ones (label 2)."""
        tc = self.cfg.train
        logs = {}
        for _ in range(tc.disc_steps):
            n = tc.batch_size // 2
            seqs, labels = [], []
            for s in (0, 1):
                b = self.draw(s, n)
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

    # ------------------------------------------------------------ inference and saving
    @torch.no_grad()
    def transfer(self, ids: list[list[int]], to: int) -> torch.Tensor:
        """Greedy rewrites (padded ids) of a batch of sources into style `to`."""
        x, m = pad_batch(ids, self.device)
        with self.autocast():
            return decode(self.gens[to], x, m, self.cfg.train.max_new_tokens)

    def checkpoint_parts(self) -> tuple[dict, dict]:
        """What a checkpoint holds: the networks, and the optimiser and scheduler states."""
        return (
            {"gen0": self.gens[0], "gen1": self.gens[1], "disc": self.disc},
            {"opt_g": self.opt_g, "opt_d": self.opt_d, "sched": self.sched},
        )

    def after_load(self) -> None:
        """Loading state dicts unties the shared embedding: tie it again."""
        if self.cfg.generator.share_embeddings:
            share_embeddings(self.gens[1], self.gens[0])

    def model(self, style_names, script: str | None) -> TextCycleModel:
        """The saved-folder view (`save_pretrained`) of the current networks."""
        tc = self.cfg.train
        return TextCycleModel(
            self.gens,
            self.disc,
            self.tok,
            style_names,
            self.cfg.data.language,
            self.cfg.tokenizer.max_length,
            script,
            reward={"style_weight": tc.style_weight, "content_weight": tc.content_weight},
        )
