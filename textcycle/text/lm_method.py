"""The CycleGAN method on LM generators: the networks, their optimisers and one update of each kind.

- `pair_step`: supervised pseudo-pairs (x of style s, y of style t): G_t learns x -> y and, the
  cycle, G_s learns y -> x. The warm start and the reward-ranked self-training rounds use it; the
  lexicon warm start's denoising pairs train G_t x -> y alone.
- `rl_step`: for sources x of style s, K samples y ~ G_t(x); the reward is the method's training
  reward (`reward.training_reward`: the discriminator's p(t | y) and exp(mean log p(x | y)) under
  G_s, their harmonic mean); REINFORCE with the leave-one-out baseline of the K samples, plus the
  back-translation loss G_s: y -> x.
- `disc_step`: the 3-way discriminator (style 0, style 1, generated) on real sentences against
  the step's samples, so the reward keeps up with what the generators write.

The discriminator is the small method's `StyleDiscriminator` over a SentencePiece vocabulary: it
reads the corpus form of a text (`disc_encode`), where casing and number strings carry no style.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .lm_model import LMGenerators
from .networks import StyleDiscriminator, pad_batch
from .reward import content_reward, training_reward
from .rl import mean_baseline, reinforce_loss

GENERATED = 2  # the discriminator's third class


class LMCycleGAN:
    """Generators on one LM, the discriminator, and their updates. `disc_encode(texts)` gives the
    discriminator's ids of natural texts."""

    def __init__(
        self,
        gens: LMGenerators,
        disc: StyleDiscriminator,
        disc_encode: Callable[[list[str]], list[list[int]]],
        lr: float = 2e-4,
        disc_lr: float = 1e-4,
        max_grad_norm: float = 1.0,
        bt_weight: float = 1.0,
        style_weight: float = 1.0,
        content_weight: float = 1.0,
    ):
        self.gens, self.disc, self.disc_encode = gens, disc, disc_encode
        self.gen_params = [p for p in gens.parameters() if p.requires_grad]
        self.opt_g = torch.optim.AdamW(self.gen_params, lr=lr, weight_decay=0.0)
        self.opt_d = torch.optim.AdamW(disc.parameters(), lr=disc_lr)
        self.max_grad_norm, self.bt_weight = max_grad_norm, bt_weight
        self.style_weight, self.content_weight = style_weight, content_weight
        self.base_lrs = [g["lr"] for g in self.opt_g.param_groups]

    def set_lr(self, lr: float) -> None:
        for g in self.opt_g.param_groups:
            g["lr"] = lr

    def update_generators(self, loss: torch.Tensor) -> None:
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.gen_params, self.max_grad_norm)
        self.opt_g.step()

    # ------------------------------------------------------------------ supervised pairs
    def pair_loss(self, pairs: list[tuple[str, str, int]], cycle: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(forward loss, cycle loss) of pairs (x, y, t): G_t x -> y, and G_{1-t} y -> x (zero
        without `cycle`: a denoising pair's x is noise, not a text to learn to write)."""
        xs, ys, ts = zip(*pairs)
        forward = self.gens.token_loss(list(xs), list(ts), list(ys))
        if not cycle:
            return forward, torch.zeros(())
        return forward, self.gens.token_loss(list(ys), [1 - t for t in ts], list(xs))

    def pair_step(self, pairs: list[tuple[str, str, int]], cycle: bool = True) -> dict:
        self.gens.train()
        forward, back = self.pair_loss(pairs, cycle)
        self.update_generators(forward + self.bt_weight * back)
        return {"pairs/forward": forward.item(), "pairs/cycle": back.item()}

    # ------------------------------------------------------------------ reward and RL
    def disc_logits(self, texts: list[str]) -> torch.Tensor:
        ids, _ = pad_batch(self.disc_encode(texts))
        return self.disc(ids).float()

    @torch.no_grad()
    def reward(self, sources: list[str], samples: list[str], t: int) -> tuple[torch.Tensor, dict]:
        """The training reward of `samples` (rewrites of `sources` into style t), and its parts."""
        was = self.disc.training
        self.disc.eval()
        self.gens.eval()
        logits = self.disc_logits(samples)
        lp, n = self.gens.target_logprobs(samples, [1 - t] * len(samples), sources)
        recon = lp / n.clamp(min=1)
        self.disc.train(was)
        r = training_reward(logits, recon, t, self.style_weight, self.content_weight)
        return r, {
            "style_acc": (logits[:, :2].argmax(-1) == t).float().mean().item(),
            "content": content_reward(recon).mean().item(),
        }

    def rl_step(self, sources: dict[int, list[str]], k: int, temperature: float = 1.0) -> dict:
        """One REINFORCE update over sources of both styles (`sources[s]`: texts of style s)."""
        logs, loss, fakes = {}, 0.0, []
        for s, xs in sources.items():
            t = 1 - s
            self.gens.eval()
            samples = [
                y
                for row in self.gens.generate(xs, [t] * len(xs), sample=True, num=k, temperature=temperature)
                for y in row
            ]
            x_rep = [x for x in xs for _ in range(k)]
            reward, parts = self.reward(x_rep, samples, t)
            base = mean_baseline(reward, k)
            self.gens.train()
            lp, _ = self.gens.target_logprobs(x_rep, [t] * len(x_rep), samples)
            pg = reinforce_loss(lp, reward, base)
            bt = self.gens.token_loss(samples, [s] * len(samples), x_rep)
            loss = loss + pg + self.bt_weight * bt
            fakes += samples[::k]
            logs.update(
                {
                    f"rl/reward_to{t}": reward.mean().item(),
                    f"rl/style_acc_to{t}": parts["style_acc"],
                    f"rl/content_to{t}": parts["content"],
                    f"rl/pg_to{t}": pg.item(),
                    f"rl/bt_to{s}": bt.item(),
                }
            )
        self.update_generators(loss)
        logs.update(self.disc_step({s: xs for s, xs in sources.items()}, fakes))
        return logs

    # ------------------------------------------------------------------ discriminator
    def disc_step(self, real: dict[int, list[str]], fakes: list[str]) -> dict:
        """Real texts of each style (labels 0, 1) against generated ones (label 2)."""
        self.disc.train()
        texts, labels = [], []
        for s, xs in real.items():
            texts += xs
            labels += [s] * len(xs)
        texts += fakes
        labels += [GENERATED] * len(fakes)
        loss = F.cross_entropy(self.disc_logits(texts), torch.tensor(labels))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.disc.parameters(), 1.0)
        self.opt_d.step()
        return {"disc/loss": loss.item()}

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_parts(self) -> tuple[dict, dict]:
        """(modules, optimiser states) for `checkpoint.save_checkpoint`: of the LM only the
        trained weights (the adapter), not the frozen base."""
        return (
            {"generators": TrainedWeights(self.gens.lm), "discriminator": self.disc},
            {"opt_g": self.opt_g, "opt_d": self.opt_d},
        )


class TrainedWeights:
    """The trainable weights of a module, as a checkpoint part: a LoRA run checkpoints megabytes
    of adapter rather than the whole LM."""

    def __init__(self, module: torch.nn.Module):
        self.module = module

    def state_dict(self) -> dict:
        return {k: v for k, v in self.module.named_parameters() if v.requires_grad}

    def load_state_dict(self, sd: dict, strict: bool = False):
        own = self.state_dict()
        with torch.no_grad():
            for k, v in sd.items():
                if k in own:
                    own[k].copy_(v)
        return [k for k in own if k not in sd], [k for k in sd if k not in own]
