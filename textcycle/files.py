"""File helpers shared by every command: reading text lines, and atomic writes.

A save either lands whole or not at all: files and folders are written under a temporary name
beside their destination and renamed into place, so a kill at any moment leaves the old version
or the new one. Published files get the usual permissions (umask applied), not mkdtemp's 0700.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import TextcycleError

TMP_MARK = ".tmp-"  # temporary folders are named `.<final>.tmp-XXXX` (see `stale_temporaries`)


def read_lines(path: str | Path) -> list[str]:
    """Read a UTF-8 text file, one item per line (split on "\\n" only, "\\r\\n" accepted); a
    clear error for missing or non-UTF-8 files."""
    p = Path(path)
    if not p.is_file():
        raise TextcycleError(f"file not found: {p}")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TextcycleError(f"{p}: line {line} is not valid UTF-8") from None
    return split_lines(text)


def split_lines(text: str) -> list[str]:
    """Lines of `text` split on "\\n" (and "\\r\\n") only. `str.splitlines` also splits on form
    feeds, U+2028 and other separators, which would misalign outputs with their input lines."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_modes(root: Path) -> None:
    """mkdtemp/mkstemp create 0700/0600: give the published tree the umask's usual modes."""
    mask = _umask()
    if root.is_dir():
        os.chmod(root, 0o777 & ~mask)
        for dirpath, dirnames, filenames in os.walk(root):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o777 & ~mask)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o666 & ~mask)
    else:
        os.chmod(root, 0o666 & ~mask)


@contextmanager
def atomic_dir(final: str | Path):
    """Yield a temporary folder beside `final`; on success it replaces `final` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}{TMP_MARK}", dir=final.parent))
    try:
        yield tmp
        for f in tmp.rglob("*"):  # make the bytes durable before the rename publishes them
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        _publish_modes(tmp)
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _publish_modes(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def stale_temporaries(folder: str | Path) -> list[Path]:
    """Temporary folders a killed save left in `folder` (`.step-N.tmp-*`, `.best.tmp-*`, ...)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.name.startswith(".") and (TMP_MARK in p.name or ".old-" in p.name)]
