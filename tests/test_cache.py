"""The user cache: built once, reused, rebuilt when stale or corrupt, and a read-only location
falls back to a temporary folder with a note."""

import os

import pytest

from textcycle import cache
from textcycle.errors import TextcycleError


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def builder(calls):
    def build(tmp):
        calls.append(tmp)
        (tmp / "weights.bin").write_bytes(b"w" * 1000)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "config.json").write_text("{}")

    return build


def test_built_once_then_reused(root):
    calls, notes = [], []
    a = cache.cached_folder("m", "src-1", builder(calls), note=notes.append)
    b = cache.cached_folder("m", "src-1", builder(calls), note=notes.append)
    assert a == b == root / "m" and len(calls) == 1
    assert (a / "weights.bin").read_bytes() == b"w" * 1000 and (a / cache.MANIFEST).is_file()
    assert len(notes) == 1 and "building m" in notes[0]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary left


def test_stale_or_corrupt_copies_are_rebuilt(root):
    calls = []
    folder = cache.cached_folder("m", "src-1", builder(calls), note=lambda m: None)
    cache.cached_folder("m", "src-2", builder(calls), note=lambda m: None)  # another source: stale
    assert len(calls) == 2
    with open(folder / "weights.bin", "r+b") as f:  # one flipped byte, same size
        f.write(b"x")
    cache.cached_folder("m", "src-2", builder(calls), note=lambda m: None)
    assert len(calls) == 3 and (folder / "weights.bin").read_bytes() == b"w" * 1000
    (folder / "sub" / "config.json").unlink()  # a missing file
    cache.cached_folder("m", "src-2", builder(calls), note=lambda m: None)
    (folder / cache.MANIFEST).write_text("{")  # a damaged manifest
    cache.cached_folder("m", "src-2", builder(calls), note=lambda m: None)
    assert len(calls) == 5


def test_a_failed_build_leaves_nothing(root):
    def broken(tmp):
        (tmp / "half.bin").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    with pytest.raises(TextcycleError, match="cannot build m.*No space left"):
        cache.cached_folder("m", "s", broken, note=lambda m: None)
    assert not (root / "m").exists() and not list(root.iterdir())


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write a read-only folder")
def test_read_only_cache_falls_back_with_a_note(root, tmp_path, monkeypatch):
    root.mkdir()
    root.chmod(0o500)
    monkeypatch.setattr(cache.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    notes = []
    try:
        folder = cache.cached_folder("m", "s", builder([]), note=notes.append)
    finally:
        root.chmod(0o700)
    assert folder.parent.parent == tmp_path / "tmp" and "cannot write the cache" in notes[0]


def test_an_unwritable_cache_location_falls_back(root, tmp_path, monkeypatch):
    root.parent.mkdir(exist_ok=True)
    root.write_text("a file where the cache folder should be")
    monkeypatch.setattr(cache.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    notes = []
    folder = cache.cached_folder("m", "s", builder([]), note=notes.append)
    assert str(folder).startswith(str(tmp_path / "tmp")) and (folder / "weights.bin").is_file()
    assert "cannot write the cache" in notes[0] and "\n" not in notes[0]


def test_manifest_source(tmp_path, monkeypatch):
    from textcycle.cache import cached_folder, read_manifest_source

    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))
    folder = cached_folder("x", "built-from-A", lambda tmp: (tmp / "f").write_text("1"))
    assert read_manifest_source(folder) == "built-from-A"
    assert read_manifest_source(tmp_path) is None  # a folder the cache did not build
