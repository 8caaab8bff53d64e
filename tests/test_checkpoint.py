"""Checkpoints (textcycle.checkpoint) and atomic saves (textcycle.files): round trips, a corrupt
newest checkpoint, stale temporaries, modes, keep >= 1."""

import os
import stat

import pytest
import torch

from textcycle.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    remove_stale_temporaries,
    resume_latest,
    save_checkpoint,
)
from textcycle.errors import TextcycleError
from textcycle.files import atomic_dir, atomic_write_text, split_lines


def tiny_parts(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(net.parameters(), lr=0.1)
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    return net, opt


def test_round_trip_restores_weights_optimizer_and_info(tmp_path):
    net, opt = tiny_parts(0)
    save_checkpoint(tmp_path, 7, {"net": net}, {"opt": opt}, {"best": 1.5})
    net2, opt2 = tiny_parts(1)
    info = load_checkpoint(tmp_path / "step-000007", {"net": net2}, {"opt": opt2})
    assert info["step"] == 7 and info["best"] == 1.5
    assert torch.equal(net.weight, net2.weight)
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_corrupt_newest_checkpoint_falls_back_to_an_intact_one(tmp_path):
    net, opt = tiny_parts()
    for step in (5, 10):
        save_checkpoint(tmp_path, step, {"net": net}, {"opt": opt}, {})
    (tmp_path / "step-000010" / "net.safetensors").write_bytes(b"\0" * 50)
    said = []
    ckpt, info = resume_latest(tmp_path, {"net": net}, {"opt": opt}, log=said.append)
    assert ckpt.name == "step-000005" and info["step"] == 5
    assert any("step-000005" in s for s in said)


def test_corrupt_state_json_is_a_clear_error_not_a_traceback(tmp_path):
    net, opt = tiny_parts()
    save_checkpoint(tmp_path, 3, {"net": net}, {"opt": opt}, {})
    (tmp_path / "step-000003" / "state.json").write_text("{broken")
    with pytest.raises(TextcycleError, match="state.json"):
        load_checkpoint(tmp_path / "step-000003", {"net": net}, {"opt": opt})
    with pytest.raises(TextcycleError, match="no intact checkpoint"):
        resume_latest(tmp_path, {"net": net}, {"opt": opt}, log=lambda m: None)


def test_prune_keeps_the_newest_and_removes_temporaries(tmp_path):
    net, opt = tiny_parts()
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, {"net": net}, {"opt": opt}, {})
    for name in (".step-000004.tmp-abc", ".best.tmp-x", ".final.tmp-y"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "big.safetensors").write_bytes(b"x")
    prune_checkpoints(tmp_path, 2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000002", "step-000003"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000002", "step-000003"]
    with pytest.raises(TextcycleError, match="at least 1"):
        prune_checkpoints(tmp_path, 0)  # bug: 0 deleted every checkpoint
    assert latest_checkpoint(tmp_path).name == "step-000003"
    (tmp_path / ".best.tmp-z").mkdir()
    remove_stale_temporaries(tmp_path)
    assert not (tmp_path / ".best.tmp-z").exists()


def test_saved_folders_get_the_umask_modes_not_0700(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "best") as d:
            (d / "w.bin").write_bytes(b"1")
        atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "best").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "best" / "w.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644


def test_atomic_dir_leaves_the_old_version_when_the_save_fails(tmp_path):
    with atomic_dir(tmp_path / "m") as d:
        (d / "v").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "m") as d:
            (d / "v").write_text("2")
            raise RuntimeError("killed")
    assert (tmp_path / "m" / "v").read_text() == "1" and len(list(tmp_path.iterdir())) == 1


def test_split_lines_only_on_newlines():
    assert split_lines("a\x0cb\nc\u2028d\r\ne\x1cf\n") == ["a\x0cb", "c\u2028d", "e\x1cf"]
    assert split_lines("") == [] and split_lines("x") == ["x"]
