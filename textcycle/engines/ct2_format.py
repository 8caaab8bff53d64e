"""The CTranslate2 copy inside a model folder: its names, format version and manifest, shared by
the converter that writes it (`ct2_convert`) and the engine that reads it (`ct2`). No torch and
no ctranslate2 here.

    MODEL/ct2/to_0/, ct2/to_1/   CTranslate2 models of G_yx (into style 0) and G_xy (into style 1):
                                 model.bin, config.json, shared_vocabulary.json (the SentencePiece
                                 pieces, so CTranslate2 token i = SentencePiece id i)
    MODEL/ct2/manifest.json      format version, quantization, ctranslate2 version, and the size
                                 and SHA-256 of every file above and of the generators.safetensors
                                 they were made from

The engine checks the manifest before CTranslate2 reads a byte, so a truncated or stale copy is a
clear error, never a native crash.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import TextcycleError
from ..files import file_digest

CT2_DIR = "ct2"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1
SOURCE = "generators.safetensors"  # what the copies are made from (model_folder.GENERATORS)


class CT2Unavailable(TextcycleError):
    """The folder has no usable CTranslate2 copy: no `ct2/` (never exported), the `ctranslate2`
    package is not installed, the copy was made from other weights than the folder's
    `generators.safetensors` (stale), or by a newer textcycle. Use the torch engine instead;
    the message says which, and how to fix it (`python -m textcycle.ct2_export MODEL_DIR`)."""


def generator_dir(folder: Path, t: int) -> Path:
    """The CTranslate2 model of the generator into style t."""
    return Path(folder) / CT2_DIR / f"to_{t}"


def has_copy(folder: Path) -> bool:
    """Whether `folder` has the manifest and both models (quick: no hashing)."""
    root = Path(folder) / CT2_DIR
    return (root / MANIFEST).is_file() and all((generator_dir(folder, t) / "model.bin").is_file() for t in (0, 1))


def file_entry(path: Path) -> dict:
    """A file as the manifest records it."""
    return {"size": path.stat().st_size, "sha256": file_digest(path)}


def redo(folder: Path) -> str:
    return f"re-export with: python -m textcycle.ct2_export {folder}"


def one_line(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TextcycleError(f"{path} ({what}) is corrupt: {one_line(e)}") from None


def read_manifest(folder: Path) -> dict:
    """`folder/ct2/manifest.json`, checked; `CT2Unavailable` when there is none."""
    path = Path(folder) / CT2_DIR / MANIFEST
    if not path.is_file():
        raise CT2Unavailable(
            f"{folder} has no CTranslate2 copy (no {CT2_DIR}/{MANIFEST}); "
            f"make one with: python -m textcycle.ct2_export {folder}"
        )
    m = read_json(path, "CTranslate2 manifest")
    if not isinstance(m, dict) or not isinstance(m.get("files"), dict) or not isinstance(m.get("format"), int):
        raise TextcycleError(f"{path} is corrupt: not a textcycle CTranslate2 manifest")
    if m["format"] > FORMAT_VERSION:
        raise CT2Unavailable(f"{path} has format {m['format']}, newer than this textcycle reads ({FORMAT_VERSION})")
    return m


def check_files(folder: Path, manifest: dict, verify: bool) -> None:
    """Every file the manifest lists is there with its size (and, with `verify`, its SHA-256);
    and the copy was made from the folder's current `generators.safetensors`."""
    folder = Path(folder)
    root = folder / CT2_DIR
    for t in (0, 1):
        for f in ("model.bin", "config.json"):
            if f"to_{t}/{f}" not in manifest["files"]:
                raise TextcycleError(f"{root / MANIFEST} is corrupt: to_{t}/{f} is not listed; {redo(folder)}")
    for name, entry in manifest["files"].items():
        p = root / name
        if not p.is_file():
            raise TextcycleError(f"{p} is missing; {redo(folder)}")
        try:
            size, digest = int(entry["size"]), str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            raise TextcycleError(f"{root / MANIFEST} is corrupt (entry {name}); {redo(folder)}") from None
        if p.stat().st_size != size:
            raise TextcycleError(
                f"{p} is truncated or corrupt ({p.stat().st_size} bytes, expected {size}); {redo(folder)}"
            )
        if verify and file_digest(p) != digest:
            raise TextcycleError(f"{p} is corrupt (checksum mismatch); {redo(folder)}")
    src = (manifest.get("source") or {}).get(SOURCE)
    g = folder / SOURCE
    if isinstance(src, dict) and g.is_file():
        stale = g.stat().st_size != src.get("size") or (verify and file_digest(g) != src.get("sha256"))
        if stale:
            raise CT2Unavailable(
                f"the CTranslate2 copy in {root} was made from other weights than {g.name} (stale); {redo(folder)}"
            )
