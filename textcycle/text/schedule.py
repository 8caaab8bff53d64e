"""Where a text run's step is: the phase, the self-training round, the learning rate's factor,
and the time-limit cut that ends self-training early so that cycle-RL still runs.

The run owns one `Schedule` and hands it to the method: the method asks it for the learning rate
of a step and never reads these numbers from the config, and the config is never changed. When
a time limit cuts self-training short, the run calls `cut(rounds)` and the method's next step
already has the RL phase's rate.

    steps:  [0, warm_steps)                      warm start
            [warm_steps, selftrain_end)          self-training, round r from round_start(r)
            [selftrain_end, total)               cycle-RL
"""

from __future__ import annotations

from dataclasses import dataclass

RL_STEP_COST = 2.5  # a cycle-RL step / a self-training step, in time (Yelp: 1.5 quiet, 1.9-2.1 shared; margin)


def rl_fits(
    limit_s: float,
    used_s: float,
    round_s: float,
    round_gen_s: float,
    round_steps: int,
    rl_steps: int,
    eval_s: float,
) -> bool:
    """Whether another self-training round of `round_s` seconds (`round_gen_s` of them making
    its pairs, the rest `round_steps` updates) still leaves time, within `limit_s`, for
    `rl_steps` cycle-RL steps (RL_STEP_COST self-training steps each) and one evaluation."""
    step_s = max(0.0, round_s - round_gen_s) / max(1, round_steps)
    return used_s + round_s + rl_steps * RL_STEP_COST * step_s + eval_s <= limit_s


@dataclass
class Schedule:
    """The phases of a run and their learning rates. `rounds` is what the run will train: the
    config's `selftrain_rounds`, or fewer after a time-limit `cut`."""

    warm_steps: int
    rounds: int
    round_steps: int
    rl_steps: int
    lr: float
    warmup_steps: int
    selftrain_lr: float
    rl_lr: float
    cut_at: int | None = None  # the rounds run when the time limit cut self-training short

    @classmethod
    def from_config(cls, tc) -> "Schedule":
        """The schedule a `TrainConfig` describes."""
        return cls(
            tc.warm_steps,
            tc.selftrain_rounds,
            tc.selftrain_steps,
            tc.rl_steps,
            tc.lr,
            tc.warmup_steps,
            tc.selftrain_lr,
            tc.rl_lr,
        )

    @property
    def selftrain_end(self) -> int:
        """The first step after the self-training rounds (= warm_steps when there are none)."""
        return self.warm_steps + self.rounds * self.round_steps

    @property
    def total(self) -> int:
        return self.selftrain_end + self.rl_steps

    def round_start(self, r: int) -> int:
        """The first step of self-training round r."""
        return self.warm_steps + r * self.round_steps

    def phase(self, step: int) -> tuple[str, int | None]:
        """("warm", None), ("selftrain", round) or ("rl", None) for `step`."""
        if step < self.warm_steps:
            return "warm", None
        if step < self.selftrain_end:
            return "selftrain", (step - self.warm_steps) // self.round_steps
        return "rl", None

    def lr_factor(self, step: int) -> float:
        """The generators' learning rate at `step` as a share of `lr`: a linear warm-up to `lr` in
        the warm start, then `selftrain_lr`, then `rl_lr`."""
        now, _ = self.phase(step)
        if now == "warm":
            return min(1.0, (step + 1) / max(1, self.warmup_steps))
        return (self.selftrain_lr if now == "selftrain" else self.rl_lr) / self.lr

    def another_round_fits(
        self, limit_s: float, used_s: float, last_round: tuple[float, float] | None, eval_s: float
    ) -> bool:
        """Whether one more self-training round still leaves time for the cycle-RL phase, by the
        last finished round's measured (seconds in all, seconds making its pairs), see `rl_fits`.
        True with no time limit, no RL steps, or no round measured yet."""
        if limit_s <= 0 or self.rl_steps == 0 or last_round is None:
            return True
        round_s, gen_s = last_round
        return rl_fits(limit_s, used_s, round_s, gen_s, self.round_steps, self.rl_steps, eval_s)

    def cut(self, rounds: int) -> None:
        """End self-training after `rounds` rounds: the cycle-RL phase starts at the next step."""
        self.rounds = self.cut_at = rounds
