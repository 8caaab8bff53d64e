"""Reward-ranked self-training (expert iteration, as in ReST / RAFT): pseudo-pairs from the
latest generators, kept only where the training reward says the rewrite is good.

One round: for each source x (style s) the fast engine draws K samples and the greedy rewrite
into t = 1 - s; each candidate y gets the training reward (`reward.training_reward`: the
discriminator's p(t | y) and the back-translation content reward exp(mean log p(x | y)) under
the other generator); the best candidate per source is kept when it is in style t (detected
p(t | y) >= `min_style`), keeps the content (content reward >= `min_content`) and is not a copy
of x. The method (`TextCycleGAN.selftrain_step`) then trains generators[t] on x -> y and
generators[s] on y -> x. With `overlap` w > 0 the content that selection uses is (1 - w) * the
back-translation content + w * the unigram F1 of the rewrite's tokens against the source's
(`token_overlap`), to prefer rewrites that change few words (in the Yelp pilots it did the
opposite: docs/training.md). Generating and scoring run on CTranslate2, several times faster than
the torch decode loop, which is why a source costs far less here than in REINFORCE.

Selection is a pure function (`best_candidates`) with tests on hand-computed numbers
(tests/test_selftrain.py); `make_pairs` wires it to an engine (`engines.ct2.CT2Engine`, on token
ids). A round's pairs (`round_pairs`) are made once, from a CTranslate2 copy of the current
generators (`make_round`), and saved in the run folder (`selftrain/round-r.json`), so a resumed
run trains on the same pairs.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import TextcycleError
from ..files import atomic_write_text
from .reward import combine_rewards, content_reward, detected_style_probs, style_reward


def best_candidates(
    reward: np.ndarray,
    style_prob: np.ndarray,
    content: np.ndarray,
    is_copy: np.ndarray,
    min_style: float,
    min_content: float,
) -> np.ndarray:
    """Per source (row), the column of the highest-reward candidate among those that pass the
    thresholds (p(target style) >= min_style, content >= min_content, not a copy), or -1 where
    none passes. All inputs are [n_sources, K]; ties go to the first column."""
    ok = (style_prob >= min_style) & (content >= min_content) & ~is_copy
    masked = np.where(ok, reward, -np.inf)
    best = masked.argmax(1)
    return np.where(ok.any(1), best, -1)


def token_overlap(source: list[int], rewrite: list[int]) -> float:
    """Unigram F1 of two token-id lists (the final </s> of each left out): 1 for a copy, 0 when
    no token is shared."""
    a, b = Counter(source[:-1]), Counter(rewrite[:-1])
    common = sum((a & b).values())
    if not common:
        return 0.0
    return 2 * common / (sum(a.values()) + sum(b.values()))


def make_pairs(
    engine,
    sources: list[list[list[int]]],
    num_samples: int,
    temperature: float,
    min_style: float,
    min_content: float,
    style_weight: float = 1.0,
    content_weight: float = 1.0,
    seed: int | None = None,
    overlap: float = 0.0,
) -> tuple[list[list[tuple[list[int], list[int]]]], dict]:
    """Pseudo-pairs for both directions. `sources[s]`: token-id sources of style s (each ending
    in </s>). Returns (pairs, stats): pairs[t] is a list of (source ids, rewrite ids) into style
    t (from sources of style 1 - t); stats has, per target style, the fraction of sources kept
    and the mean reward, style probability and content reward of the kept rewrites."""
    pairs: list[list[tuple[list[int], list[int]]]] = [[], []]
    stats: dict = {}
    for s in (0, 1):
        t, src = 1 - s, sources[s]
        if not src:
            continue
        sampled = engine.generate_ids(
            src,
            to=t,
            sample=True,
            num_hypotheses=num_samples,
            temperature=temperature,
            seed=None if seed is None else seed + s,
        )
        greedy = engine.generate_ids(src, to=t)
        cands = [hs + g for hs, g in zip(sampled, greedy)]  # K samples + the greedy rewrite per source
        k = num_samples + 1
        flat = [y for c in cands for y in c]
        src_rep = [x for x in src for _ in range(k)]
        logits = engine.style_logits_ids(flat)
        recon = engine.logprobs_ids(flat, src_rep, with_generator=s)
        content = np.asarray(content_reward(recon))
        if overlap > 0:
            content = (1 - overlap) * content + overlap * np.array([token_overlap(x, y) for y, x in zip(flat, src_rep)])
        reward = np.asarray(combine_rewards(style_reward(logits, t), content, style_weight, content_weight)).reshape(
            -1, k
        )
        content = content.reshape(-1, k)
        style_prob = detected_style_probs(logits)[:, t].reshape(-1, k)
        is_copy = np.array([y == x for y, x in zip(flat, src_rep)]).reshape(-1, k)
        best = best_candidates(reward, style_prob, content, is_copy, min_style, min_content)
        kept = np.flatnonzero(best >= 0)
        for i in kept:
            pairs[t].append((list(src[i]), list(cands[i][best[i]])))
        rows = (kept, best[kept])
        stats[f"selftrain/kept_to{t}"] = float(len(kept) / len(src))
        stats[f"selftrain/reward_to{t}"] = float(reward[rows].mean()) if len(kept) else 0.0
        stats[f"selftrain/style_to{t}"] = float(style_prob[rows].mean()) if len(kept) else 0.0
        stats[f"selftrain/content_to{t}"] = float(content[rows].mean()) if len(kept) else 0.0
    return pairs, stats


def save_pairs(path: Path, pairs, stats: dict) -> None:
    """One round's pairs (token ids) and stats, written atomically: a resumed run trains on the
    same pairs instead of regenerating them."""
    atomic_write_text(Path(path), json.dumps({"pairs": pairs, "stats": stats}) + "\n")


def load_pairs(path: Path):
    """(pairs, stats) as `save_pairs` wrote them; a damaged file is one line naming it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        pairs = [[(list(map(int, a)), list(map(int, b))) for a, b in data["pairs"][t]] for t in (0, 1)]
        return pairs, dict(data.get("stats", {}))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise TextcycleError(
            f"{path}: damaged self-training pairs ({type(e).__name__}); delete it to regenerate them"
        ) from None


ROUND_DIR = "selftrain"  # in the run folder: round-r.json per round, engine/ (the latest copy)


def round_file(run_dir: Path, r: int) -> Path:
    return Path(run_dir) / ROUND_DIR / f"round-{r}.json"


def make_round(model, run_dir: Path, train_ids: list[list[list[int]]], rng, tc, threads: int, seed: int):
    """Pseudo-pairs from the current generators (`model`, a TextCycleModel): saved with a float32
    CTranslate2 copy (the same rewrites as torch, several times faster), `tc.selftrain_sources`
    sources per style drawn with `rng` from `train_ids`, candidates ranked by the training
    reward (`make_pairs`, with `tc`'s numbers; sampling seeded with `seed`)."""
    from ..engines.ct2 import CT2Engine
    from ..model_folder import ModelFolder

    folder = Path(run_dir) / ROUND_DIR / "engine"
    model.save_pretrained(folder, ctranslate2="float32")
    engine = CT2Engine.from_folder(ModelFolder.open(folder), threads=threads, verify=False)
    sources = [rng.sample(train_ids[s], min(tc.selftrain_sources, len(train_ids[s]))) for s in (0, 1)]
    return make_pairs(
        engine,
        sources,
        tc.selftrain_samples,
        tc.sample_temperature,
        tc.selftrain_min_style,
        tc.selftrain_min_content,
        tc.style_weight,
        tc.content_weight,
        overlap=tc.selftrain_overlap,
        seed=seed,
    )


def round_pairs(
    path: Path, make: Callable[[], tuple], main_process: bool = True, wait: Callable[[], None] = lambda: None
):
    """(pairs, stats, seconds spent making them) of one round: read from `path` when a killed run
    made them already, else made by `make()` in the main process and saved there; `wait` (the
    processes' barrier) comes before every process reads them."""
    t0 = time.time()
    if main_process and not Path(path).is_file():
        pairs, stats = make()
        stats["selftrain/seconds"] = round(time.time() - t0, 1)
        save_pairs(path, pairs, stats)
    wait()
    made_s = time.time() - t0  # ~0 when a killed run had made them already
    pairs, stats = load_pairs(path)
    return pairs, stats, made_s
