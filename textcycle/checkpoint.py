"""Atomic checkpoints in safetensors, and resume; shared by the text and image trainers.

A checkpoint is a folder `step-000123/` holding:
- `<name>.safetensors` for every model (weights only, never pickle);
- `<name>.optim.safetensors` + `<name>.optim.json` for every optimizer or scheduler state
  (tensors in safetensors, the rest of the nested structure as JSON);
- `state.json`: step counters, RNG states, anything else JSON-serialisable.
It is written to a temporary folder and renamed into place, so a run killed at any moment leaves
either the old checkpoint or the new one, never half of one. `latest_checkpoint` finds the
newest complete one; `prune_checkpoints` keeps the last N.
"""

from __future__ import annotations

import errno
import json
import random
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import TextcycleError
from .files import atomic_dir, stale_temporaries

STEP_DIR = re.compile(r"^step-(\d+)$")
DONE_MARK = "state.json"


def _flatten(obj: Any, prefix: str, tensors: dict) -> Any:
    """Replace tensors in a nested structure by {"__tensor__": key}, collecting them in `tensors`."""
    if isinstance(obj, torch.Tensor):
        key = prefix or "t"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {
            "__dict__": [
                [_flatten(k, f"{prefix}.k{i}", tensors), _flatten(v, f"{prefix}.{i}", tensors)]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    if isinstance(obj, (list, tuple)):
        kind = "__list__" if isinstance(obj, list) else "__tuple__"
        return {kind: [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    return obj


def _unflatten(obj: Any, tensors: dict) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            return [_unflatten(v, tensors) for v in obj["__list__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
    return obj


def save_state_dict(state: Any, path_stem: str | Path) -> None:
    """Save any nested state (optimizer, scheduler) as `<stem>.safetensors` + `<stem>.json`."""
    tensors: dict = {}
    skeleton = _flatten(state, "s", tensors)
    save_file(tensors, f"{path_stem}.safetensors")
    Path(f"{path_stem}.json").write_text(json.dumps(skeleton), encoding="utf-8")


def load_state_dict(path_stem: str | Path) -> Any:
    try:
        tensors = load_file(f"{path_stem}.safetensors")
        skeleton = json.loads(Path(f"{path_stem}.json").read_text(encoding="utf-8"))
    except (OSError, SafetensorError, json.JSONDecodeError) as e:
        raise TextcycleError(f"corrupt or missing checkpoint file {path_stem}: {e}") from None
    return _unflatten(skeleton, tensors)


def rng_state() -> dict:
    return {
        "python": random.getstate(),
        "torch": torch.get_rng_state(),
    }


def set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    torch.set_rng_state(state["torch"].to(torch.uint8))


# errors of a write that a user fixes by making room (a full disk, a quota, a read-only mount)
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO)


@contextmanager
def write_errors(what: str | Path | None, ckpt_dir: str | Path, any_os_error: bool = True):
    """Turn a failed write inside the block (OSError; SafetensorError, which is how safetensors
    reports a full disk) into one line: what could not be written (`what`, else the error's
    file name), why, and the last good checkpoint in `ckpt_dir`, which --resume continues
    from. With `any_os_error` False only the OSErrors of `WRITE_ERRNOS` (a full disk) are
    turned, for a block that also reads."""
    try:
        yield
    except (OSError, SafetensorError) as e:
        if not any_os_error and (
            e.errno not in WRITE_ERRNOS if isinstance(e, OSError) else "deserializ" in str(e)
        ):  # a read: not ours to explain
            raise
        why = (e.strerror if isinstance(e, OSError) else None) or (str(e).splitlines() or [type(e).__name__])[0]
        last = latest_checkpoint(ckpt_dir)
        resume = f"the last good checkpoint is {last}; --resume continues from it" if last else "no checkpoint yet"
        name = what if what is not None else getattr(e, "filename", None) or "the run folder"
        raise TextcycleError(f"cannot write {name}: {why[:200]}; {resume}") from None


def save_checkpoint(run_dir: str | Path, step: int, models: dict, states: dict, info: dict) -> Path:
    """Write `run_dir/step-XXXXXX` atomically. `models`: name -> nn.Module; `states`: name ->
    object with `state_dict()` (optimizers, schedulers, scalers); `info`: JSON-able dict.
    A failed write (a full disk) leaves the older checkpoints and is one TextcycleError line."""
    final = Path(run_dir) / f"step-{step:06d}"
    with write_errors(final, run_dir), atomic_dir(final) as tmp:
        for name, model in models.items():
            sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            save_file(_dedup_shared(sd), str(tmp / f"{name}.safetensors"))
        for name, obj in states.items():
            save_state_dict(obj.state_dict(), tmp / f"{name}.state")
        save_state_dict(rng_state(), tmp / "rng.state")
        (tmp / DONE_MARK).write_text(json.dumps({"step": step, **info}, indent=1), encoding="utf-8")
    return final


def _dedup_shared(sd: dict) -> dict:
    """safetensors refuses tensors that share memory (tied embeddings): clone the repeats."""
    seen, out = {}, {}
    for k, v in sd.items():
        ptr = (v.data_ptr(), v.shape, v.stride()) if v.numel() else None
        out[k] = v.clone() if ptr is not None and ptr in seen else v
        if ptr is not None:
            seen[ptr] = k
    return out


def load_checkpoint(ckpt: str | Path, models: dict, states: dict, restore_rng: bool = True) -> dict:
    """Load what `save_checkpoint` wrote into `models`/`states`; return its info dict."""
    ckpt = Path(ckpt)
    if not (ckpt / DONE_MARK).is_file():
        raise TextcycleError(f"{ckpt} is not a complete checkpoint (no {DONE_MARK})")
    try:
        info = json.loads((ckpt / DONE_MARK).read_text(encoding="utf-8"))
        if not isinstance(info, dict) or not isinstance(info.get("step"), int):
            raise ValueError("no step number")
    except (ValueError, UnicodeDecodeError, OSError) as e:
        raise TextcycleError(f"corrupt checkpoint file {ckpt / DONE_MARK}: {e}") from None
    # read before anything is loaded: a checkpoint without it would resume on other random draws
    rng = load_state_dict(ckpt / "rng.state") if restore_rng else None
    for name, model in models.items():
        f = ckpt / f"{name}.safetensors"
        try:
            sd = load_file(str(f))
        except (OSError, SafetensorError) as e:
            raise TextcycleError(f"corrupt or missing checkpoint file {f}: {e}") from None
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if unexpected or [m for m in missing if not _is_tied(model, m)]:
            raise TextcycleError(f"{f} does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    for name, obj in states.items():
        obj.load_state_dict(load_state_dict(ckpt / f"{name}.state"))
    if rng is not None:
        try:
            set_rng_state(rng)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError) as e:
            raise TextcycleError(f"corrupt checkpoint file {ckpt / 'rng.state.json'}: {type(e).__name__} {e}") from None
    return info


def resume_latest(run_dir: str | Path, models: dict, states: dict, log=print) -> tuple[Path, dict] | None:
    """Load the newest checkpoint that is intact; a corrupt newer one is reported and skipped
    (a disk error or a kill of an older, non-atomic writer must not block the whole run).
    Returns (checkpoint folder, info) or None when there is none."""
    ckpts = list_checkpoints(run_dir)
    errors = []
    for ckpt in reversed(ckpts):
        try:
            info = load_checkpoint(ckpt, models, states)
        except TextcycleError as e:
            errors.append(str(e))
            log(f"warning: {e}; trying an older checkpoint")
            continue
        if errors:
            log(f"warning: resumed from {ckpt.name}, the newest intact checkpoint")
        return ckpt, info
    if errors:
        raise TextcycleError(f"no intact checkpoint in {run_dir}: {errors[0]}")
    return None


def _is_tied(model, key: str) -> bool:
    tied = getattr(model, "_tied_weights_keys", None) or {}
    return key in tied or "lm_head" in key


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints in `run_dir`, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = []
    for p in run_dir.iterdir():
        m = STEP_DIR.match(p.name)
        if m and (p / DONE_MARK).is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    ckpts = list_checkpoints(run_dir)
    return ckpts[-1] if ckpts else None


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete all but the newest `keep` (at least 1) complete checkpoints, and the temporary
    folders a killed save left behind (`.step-N.tmp-*`)."""
    if keep < 1:
        raise TextcycleError(f"keep_checkpoints must be at least 1, got {keep}")
    ckpts = list_checkpoints(run_dir)
    for p in ckpts[: max(0, len(ckpts) - keep)]:
        shutil.rmtree(p, ignore_errors=True)
    remove_stale_temporaries(run_dir)


def remove_stale_temporaries(folder: str | Path) -> None:
    """Temporary folders of saves that a kill interrupted: never complete, so never needed.
    Only call where no other process of the same run is saving (the main process)."""
    for p in stale_temporaries(folder):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
