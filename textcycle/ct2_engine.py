"""The CTranslate2 rewriting engine: a model folder's generators, discriminator and vocabulary,
with no torch and no transformers (ctranslate2, sentencepiece, numpy, safetensors.numpy only).

    from textcycle.ct2_engine import CT2Engine, CT2Unavailable, has_ctranslate2
    try:
        engine = CT2Engine.from_folder("textcycle/pretrained/yelp", threads=2)
    except CT2Unavailable as e:          # no ct2/ copy, ctranslate2 missing, or a stale copy
        print(f"note: {e}; using torch")  # -> fall back to the torch engine
    ids = engine.encode(["the food was cold ."])
    out = engine.generate(ids, to=1)                  # [[[... ids ending in </s>]]]
    engine.decode([h[0] for h in out])                # ["the food was warm ."]

A folder gets its CTranslate2 copies from `python -m textcycle.ct2_export MODEL_DIR` (which does
use torch, once): `MODEL_DIR/ct2/to_0/`, `ct2/to_1/` (CTranslate2 models of G_yx and G_xy; their
vocabulary is the SentencePiece pieces, so CTranslate2 token i is SentencePiece id i) and
`ct2/manifest.json` (quantization, sizes and SHA-256 of every file, and of the
`generators.safetensors` the copies were made from). Everything works on token-id lists:
SentencePiece ids, each source ending in `</s>` (= 3) as `encode` gives them, the same ids as
`TextcycleTokenizer.encode_fast`.

Errors: a folder with no usable copy raises `CT2Unavailable` (a `TextcycleError`; the caller
falls back to torch with a note); a copy that is there but corrupt or truncated raises a plain
`TextcycleError` with a one-line message, checked against the manifest before CTranslate2 reads
a byte (so never a native crash).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from .errors import TextcycleError
from .reward import detected_style_probs
from .vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, decode_ids, encode_ids  # noqa: F401

CT2_DIR = "ct2"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1
ENGINE_NAME = "ctranslate2"
# weights stored in a type this CPU cannot compute in are computed in the nearest one it can
_CPU_FALLBACK = {
    "float16": "float32",
    "bfloat16": "float32",
    "int8_float16": "int8_float32",
    "int8_bfloat16": "int8_float32",
    "int16": "float32",
    # int8 layers + float16 embeddings: stored for size, computed in float32 for fidelity
    "int8_embed_float16": "float32",
}


class CT2Unavailable(TextcycleError):
    """The folder has no usable CTranslate2 copy: no `ct2/` (never exported), the `ctranslate2`
    package is not installed, the copy was made from other weights than the folder's
    `generators.safetensors` (stale), or by a newer textcycle. Use the torch engine instead;
    the message says which, and how to fix it (`python -m textcycle.ct2_export MODEL_DIR`)."""


def _ctranslate2():
    try:
        import ctranslate2
    except ImportError:
        raise CT2Unavailable("the ctranslate2 package is not installed (pip install ctranslate2)") from None
    return ctranslate2


def _resolve(name_or_path) -> Path:
    """A model folder, or a bundled name ("yelp", "zh"), resolved without importing torch."""
    try:
        from .model_folder import resolve_model_path
    except ImportError:  # older layout: plain paths only
        return Path(name_or_path)
    return resolve_model_path(name_or_path)


def has_ctranslate2(folder) -> bool:
    """True when `folder` has CTranslate2 copies (`ct2/manifest.json` and both models) and the
    ctranslate2 package is importable. Quick (no hashing): `CT2Engine.from_folder` still checks
    the files and raises `CT2Unavailable` for a stale copy."""
    try:
        root = _resolve(folder) / CT2_DIR
    except TextcycleError:
        return False
    if not ((root / MANIFEST).is_file() and all((root / f"to_{t}" / "model.bin").is_file() for t in (0, 1))):
        return False
    import importlib.util

    return importlib.util.find_spec("ctranslate2") is not None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _one_line(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TextcycleError(f"{path} ({what}) is corrupt: {_one_line(e)}") from None


def read_manifest(folder) -> dict:
    """`folder/ct2/manifest.json`, checked; `CT2Unavailable` when there is none."""
    path = Path(folder) / CT2_DIR / MANIFEST
    if not path.is_file():
        raise CT2Unavailable(
            f"{folder} has no CTranslate2 copy (no {CT2_DIR}/{MANIFEST}); "
            f"make one with: python -m textcycle.ct2_export {folder}"
        )
    m = _read_json(path, "CTranslate2 manifest")
    if not isinstance(m, dict) or not isinstance(m.get("files"), dict) or not isinstance(m.get("format"), int):
        raise TextcycleError(f"{path} is corrupt: not a textcycle CTranslate2 manifest")
    if m["format"] > FORMAT_VERSION:
        raise CT2Unavailable(f"{path} has format {m['format']}, newer than this textcycle reads ({FORMAT_VERSION})")
    return m


def _check_files(folder: Path, manifest: dict, verify: bool) -> None:
    """Every file the manifest lists is there with its size (and, with `verify`, its SHA-256);
    and the copy was made from the folder's current `generators.safetensors`."""
    root = folder / CT2_DIR
    redo = f"re-export with: python -m textcycle.ct2_export {folder}"
    for t in (0, 1):
        for f in ("model.bin", "config.json"):
            if f"to_{t}/{f}" not in manifest["files"]:
                raise TextcycleError(f"{root / MANIFEST} is corrupt: to_{t}/{f} is not listed; {redo}")
    for name, entry in manifest["files"].items():
        p = root / name
        if not p.is_file():
            raise TextcycleError(f"{p} is missing; {redo}")
        try:
            size, digest = int(entry["size"]), str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            raise TextcycleError(f"{root / MANIFEST} is corrupt (entry {name}); {redo}") from None
        if p.stat().st_size != size:
            raise TextcycleError(f"{p} is truncated or corrupt ({p.stat().st_size} bytes, expected {size}); {redo}")
        if verify and _sha256(p) != digest:
            raise TextcycleError(f"{p} is corrupt (checksum mismatch); {redo}")
    src = (manifest.get("source") or {}).get("generators.safetensors")
    g = folder / "generators.safetensors"
    if isinstance(src, dict) and g.is_file():
        stale = g.stat().st_size != src.get("size") or (verify and _sha256(g) != src.get("sha256"))
        if stale:
            raise CT2Unavailable(
                f"the CTranslate2 copy in {root} was made from other weights than {g.name} (stale); {redo}"
            )


# ---------------------------------------------------------------- the discriminator in numpy


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class NumpyDiscriminator:
    """`textcycle`'s StyleDiscriminator in numpy, read from `discriminator.safetensors`: token
    embedding * sqrt(d_model) + learned positions, pre-norm Transformer encoder layers (self-
    attention with a key padding mask, ReLU feed-forward), a final LayerNorm, the mean over real
    (non-pad) tokens, a linear head. Inputs are cut to `max_length` as the torch module does."""

    def __init__(self, weights: dict, config: dict):
        try:
            self.d = int(config["d_model"])
            self.heads = int(config["heads"])
            self.layers = int(config["layers"])
            self.max_length = int(config["max_length"])
        except (KeyError, TypeError, ValueError) as e:
            raise TextcycleError(f"discriminator config is incomplete ({_one_line(e)})") from None
        w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}

        def get(k, shape=None):
            if k not in w:
                raise TextcycleError(f"discriminator weights do not match the config: {k} is missing")
            if shape is not None and w[k].shape != shape:
                raise TextcycleError(
                    f"discriminator weights do not match the config: {k} has shape {w[k].shape}, expected {shape}"
                )
            return w[k]

        d, ffn = self.d, int(config.get("ffn_dim", 0)) or None
        if d % self.heads:
            raise TextcycleError(f"discriminator config: d_model {d} is not divisible by heads {self.heads}")
        self.embed = get("embed.weight")
        if self.embed.ndim != 2 or self.embed.shape[1] != d:
            raise TextcycleError(f"discriminator weights do not match the config: embed.weight {self.embed.shape}")
        self.pos = get("pos.weight", (self.max_length, d))
        self.blocks = []
        for i in range(self.layers):
            p = f"encoder.layers.{i}."
            lin1 = get(p + "linear1.weight")
            self.blocks.append(
                dict(
                    in_w=get(p + "self_attn.in_proj_weight", (3 * d, d)).T.copy(),
                    in_b=get(p + "self_attn.in_proj_bias", (3 * d,)),
                    out_w=get(p + "self_attn.out_proj.weight", (d, d)).T.copy(),
                    out_b=get(p + "self_attn.out_proj.bias", (d,)),
                    n1w=get(p + "norm1.weight", (d,)),
                    n1b=get(p + "norm1.bias", (d,)),
                    n2w=get(p + "norm2.weight", (d,)),
                    n2b=get(p + "norm2.bias", (d,)),
                    l1w=get(p + "linear1.weight", (ffn or lin1.shape[0], d)).T.copy(),
                    l1b=get(p + "linear1.bias", (ffn or lin1.shape[0],)),
                    l2w=get(p + "linear2.weight", (d, ffn or lin1.shape[0])).T.copy(),
                    l2b=get(p + "linear2.bias", (d,)),
                )
            )
        self.norm_w, self.norm_b = get("norm.weight", (d,)), get("norm.bias", (d,))
        self.head_w = get("head.weight").T.copy()
        self.head_b = get("head.bias")
        if self.head_w.shape[0] != d or self.head_b.shape != (self.head_w.shape[1],):
            raise TextcycleError("discriminator weights do not match the config: head")
        self.num_classes = self.head_w.shape[1]

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """Logits [B, num_classes] for padded ids [B, T] (PAD_ID = padding)."""
        ids = np.asarray(ids, dtype=np.int64)[:, : self.max_length]
        B, T = ids.shape
        if ids.size and (ids.min() < 0 or ids.max() >= self.embed.shape[0]):
            raise TextcycleError(f"token id out of range for the discriminator (vocabulary {self.embed.shape[0]})")
        pad = ids == PAD_ID
        H, dh, d = self.heads, self.d // self.heads, self.d
        # linear layers as one 2-D product over all B*T positions (a 3-D @ 2-D product is a
        # loop of small ones in numpy, several times slower)
        h = (self.embed[ids] * np.float32(math.sqrt(d)) + self.pos[:T]).reshape(B * T, d)
        key_bias = np.where(pad, np.float32(-1e30), np.float32(0.0))[:, None, None, :]  # [B, 1, 1, T]
        scale = np.float32(1.0 / math.sqrt(dh))
        for blk in self.blocks:
            x = _layer_norm(h, blk["n1w"], blk["n1b"])
            qkv = (x @ blk["in_w"] + blk["in_b"]).reshape(B, T, 3, H, dh).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0] * scale, qkv[1], qkv[2]  # [B, H, T, dh]
            s = q @ k.transpose(0, 1, 3, 2) + key_bias  # [B, H, T, T]
            s = np.exp(s - s.max(-1, keepdims=True))
            a = (s / s.sum(-1, keepdims=True)) @ v  # [B, H, T, dh]
            h = h + a.transpose(0, 2, 1, 3).reshape(B * T, d) @ blk["out_w"] + blk["out_b"]
            x = _layer_norm(h, blk["n2w"], blk["n2b"])
            h = h + np.maximum(x @ blk["l1w"] + blk["l1b"], 0) @ blk["l2w"] + blk["l2b"]
        h = _layer_norm(h, self.norm_w, self.norm_b).reshape(B, T, d)
        keep = (~pad)[..., None].astype(np.float32)
        pooled = (h * keep).sum(1) / np.maximum(keep.sum(1), 1)
        return pooled @ self.head_w + self.head_b


def load_discriminator(folder) -> NumpyDiscriminator:
    """The folder's discriminator as a `NumpyDiscriminator` (no torch)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    config = _read_json(folder / "config.json", "model config")
    if not isinstance(config, dict) or not isinstance(config.get("discriminator"), dict):
        raise TextcycleError(f"{folder / 'config.json'}: no discriminator config")
    f = folder / "discriminator.safetensors"
    if not f.is_file():
        raise TextcycleError(f"{folder} is not a textcycle model: discriminator.safetensors is missing")
    try:
        weights = load_file(str(f))
    except (SafetensorError, OSError, ValueError) as e:
        raise TextcycleError(f"{f}: corrupt weights ({_one_line(e)})") from None
    return NumpyDiscriminator(weights, config["discriminator"])


def pad_ids(seqs: list[list[int]]) -> np.ndarray:
    """Id lists -> int64 [n, T] padded with PAD_ID."""
    n = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), max(n, 1)), PAD_ID, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


# ---------------------------------------------------------------- the engine


class CT2Engine:
    """Both generators as CTranslate2 translators, the discriminator in numpy, and the
    SentencePiece vocabulary, from one model folder. `generators`/`to` index as in
    `TextCycleModel`: 0 = G_yx (rewrites into style 0), 1 = G_xy (into style 1).

    Attributes: `folder`, `style_names`, `language`, `max_length`, `script`, `reward` (the
    folder's config values), `quantization` (how the copies are stored), `compute_type` (what
    CTranslate2 computes in), `threads`, `max_new_tokens` (default generation budget:
    max_length + 8, as the torch path), `name` ("ctranslate2")."""

    name = ENGINE_NAME

    def __init__(
        self,
        folder: Path,
        translators: list,
        discriminator: NumpyDiscriminator,
        sp,
        config: dict,
        manifest: dict,
        threads: int,
        vocabulary: list[str] | None = None,
    ):
        self.folder = folder
        self._translators = translators
        self.discriminator = discriminator
        self.sp = sp
        self.config = config
        self.manifest = manifest
        self.threads = threads
        self.style_names = list(config.get("style_names") or ["style 0", "style 1"])
        self.language = config.get("language", "en")
        self.max_length = int(config.get("max_length", 40))
        self.script = config.get("script")
        self.reward = {"style_weight": 1.0, "content_weight": 1.0, **(config.get("reward") or {})}
        self.quantization = manifest.get("quantization")
        self.compute_type = translators[0].compute_type
        self._seed: int | None = None  # set_seed: every sampling call is then reproducible
        self._sample_calls = 0
        self.max_new_tokens = self.max_length + 8
        self.vocab_size = sp.get_piece_size()
        # CTranslate2 token i = SentencePiece id i; rows past the SentencePiece vocabulary (a
        # model with more embedding rows than pieces) have placeholder tokens no text decodes to
        self._pieces = list(vocabulary) if vocabulary else [sp.id_to_piece(i) for i in range(self.vocab_size)]
        self._index = {p: i for i, p in enumerate(self._pieces)}
        self._suppress = [[self._pieces[PAD_ID]], [self._pieces[BOS_ID]]]

    @classmethod
    def from_folder(cls, path, threads: int = 2, compute_type: str | None = None, verify: bool = True) -> "CT2Engine":
        """Load a model folder (or a bundled name) that has CTranslate2 copies.

        `threads`: CTranslate2 intra-op threads per generator. `compute_type`: None computes in
        the type the copies were stored in (float16/bfloat16 storage: float32 where the CPU has
        no fast half-precision path), or any CTranslate2 compute type ("float32", "int8", ...).
        `verify`: also check the SHA-256 of every file (about 70 ms for the bundled model);
        sizes are always checked. Raises `CT2Unavailable` (fall back to torch) or
        `TextcycleError` (a corrupt folder)."""
        from .model_folder import read_model_info

        folder = _resolve(path)
        config = read_model_info(folder)  # every field checked, the networks' sizes too, as the torch engine does
        manifest = read_manifest(folder)
        ct2 = _ctranslate2()
        _check_files(folder, manifest, verify)
        sp = _load_sentencepiece(folder)
        supported = ct2.get_supported_compute_types("cpu")
        if compute_type is None:
            stored = manifest.get("quantization") or "default"
            compute_type = stored if stored in supported else _CPU_FALLBACK.get(stored, "default")
        elif compute_type not in supported and compute_type not in ("default", "auto"):
            raise TextcycleError(
                f"compute type {compute_type!r} is not available on this CPU "
                f"(available: {', '.join(sorted(supported))})"
            )
        translators = [_load_translator(folder, t, compute_type, threads) for t in (0, 1)]
        vocabs = []
        for t in (0, 1):
            f = folder / CT2_DIR / f"to_{t}" / "shared_vocabulary.json"
            v = _read_json(f, "CTranslate2 vocabulary") if f.is_file() else None
            if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise TextcycleError(f"{f} is corrupt: expected a list of tokens")
            vocabs.append(v)
        n = sp.get_piece_size()
        pieces = [sp.id_to_piece(i) for i in range(n)]
        for v in vocabs:
            if v is not None and (len(v) < n or v[:n] != pieces or v != (vocabs[0] or v)):
                raise CT2Unavailable(
                    f"the CTranslate2 copy in {folder / CT2_DIR} has another vocabulary than "
                    f"tokenizer.model (stale); re-export with: python -m textcycle.ct2_export {folder}"
                )
        disc = load_discriminator(folder)
        return cls(folder, translators, disc, sp, config, manifest, max(1, int(threads)), vocabs[0])

    # ------------------------------------------------------------ text <-> ids
    def encode(self, texts: list[str]) -> list[list[int]]:
        """SentencePiece ids of each text (corpus form), cut to max_length - 1, then `</s>`:
        the same ids as `TextcycleTokenizer.encode_fast(texts, max_length)`."""
        return encode_ids(self.sp, texts, self.max_length)

    def decode(self, ids: list[list[int]]) -> list[str]:
        """Text of each id list, stopping at `</s>` and dropping ids <= 3 (<pad>, <unk>, <s>), as
        `TextcycleTokenizer.decode_fast`."""
        return decode_ids(self.sp, ids)

    def _tokens(self, seqs: list[list[int]], strip_eos: bool = False) -> list[list[str]]:
        p, out = self._pieces, []
        for s in seqs:
            s = [int(i) for i in s]
            while s and s[-1] == PAD_ID:
                s.pop()
            if strip_eos and EOS_ID in s:
                s = s[: s.index(EOS_ID)]
            try:
                if s and min(s) < 0:
                    raise IndexError
                out.append([p[i] for i in s])
            except IndexError:
                raise TextcycleError(f"token id out of range (vocabulary {len(p)}): {s}") from None
        return out

    def _ids(self, tokens: list[str]) -> list[int]:
        index = self._index
        return [index[t] for t in tokens]

    # ------------------------------------------------------------ the engine interface
    def set_seed(self, seed: int) -> None:
        """Make the following sampling calls reproducible. CTranslate2 (4.8.5, measured) seeds
        each worker thread's generator when the thread starts, so `set_random_seed` alone does
        not reach translators already loaded: each one is reloaded (from the page cache, tens of
        ms) before each sampling call, seeded with seed + the call's number, and the call runs as
        one batch on one thread (with several inter-op threads, which thread takes which
        sub-batch is not fixed, and neither would the samples be)."""
        self._seed, self._sample_calls = int(seed), 0

    def generate(
        self,
        src_ids: list[list[int]],
        to: int,
        beam: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
        num_hypotheses: int = 1,
        max_new_tokens: int | None = None,
        top_k: int = 0,
        seed: int | None = None,
        max_batch_size: int = 0,
    ) -> list[list[list[int]]]:
        """Rewrite each source into style `to`. Returns, per source, `num_hypotheses` id lists,
        each ending in `</s>` (a rewrite cut at `max_new_tokens` gets one appended, as in the
        torch `decode`); `<pad>` and `<s>` are never generated.

        Greedy (`beam=1`, no `sample`) gives the torch `decode` loop's outputs; `beam > 1` the
        `num_hypotheses` best of the beam (length-normalised scores, as `generate()`);
        `sample` draws `num_hypotheses` independent samples at `temperature` (from the top
        `top_k` tokens; 0 = all), seeded with `seed` if given. `max_batch_size` > 0 lets
        CTranslate2 sort the sources by length and run them in chunks of that size."""
        if sample and seed is not None:
            self.set_seed(seed)
        return self.generate_many(
            [(src_ids, to)],
            beam=beam,
            sample=sample,
            temperature=temperature,
            num_hypotheses=num_hypotheses,
            max_new_tokens=max_new_tokens,
            top_k=top_k,
            max_batch_size=max_batch_size,
        )[0]

    def generate_many(self, requests: list[tuple[list[list[int]], int]], **options) -> list[list[list[list[int]]]]:
        """`generate(src_ids, to, **options)` for each `(src_ids, to)` of `requests`, all handed to
        CTranslate2 at once: both generators decode side by side, so a thread whose sub-batch
        ends early takes the next one instead of waiting (a mixed server batch of 160: 17% less
        time than one direction after the other). Seeded sampling runs one request at a time."""
        if options.get("sample") and self._seed is not None:
            return [self._collect(self._start(ids, to, **options)) for ids, to in requests]
        return [self._collect(p) for p in [self._start(ids, to, **options) for ids, to in requests]]

    def _start(
        self,
        src_ids,
        to,
        beam=1,
        sample=False,
        temperature=1.0,
        num_hypotheses=1,
        max_new_tokens=None,
        top_k=0,
        max_batch_size=0,
    ):
        """Check the options and hand the sources to CTranslate2 (asynchronously); `_collect` waits."""
        if beam < 1 or num_hypotheses < 1:
            raise TextcycleError("beam and num_hypotheses must be at least 1")
        if to not in (0, 1):
            raise TextcycleError(f"generator index must be 0 or 1, got {to!r}")
        if not sample and num_hypotheses > beam:
            raise TextcycleError(f"num_hypotheses ({num_hypotheses}) needs sample=True or a beam at least as wide")
        if not src_ids:
            return []
        if sample and self._seed is not None:
            _ctranslate2().set_random_seed((self._seed + self._sample_calls) % 2**32)  # an unsigned 32-bit seed
            self._sample_calls += 1
            self._translators[to] = _load_translator(self.folder, to, self.compute_type, self.threads)
            max_batch_size = len(src_ids)
        max_new = self.max_new_tokens if max_new_tokens is None else int(max_new_tokens)
        opts = dict(
            beam_size=1 if sample else beam,
            num_hypotheses=num_hypotheses,
            max_decoding_length=max_new,
            min_decoding_length=0,
            return_end_token=True,
            suppress_sequences=self._suppress,
            asynchronous=True,
            max_batch_size=_sub_batch(len(src_ids), self.threads, max_batch_size),
        )
        if sample:
            opts.update(sampling_topk=int(top_k), sampling_temperature=max(float(temperature), 1e-5))
        else:
            opts.update(length_penalty=1.0, sampling_topk=1)
        try:
            return self._translators[to].translate_batch(self._tokens(src_ids), **opts)
        except (RuntimeError, ValueError) as e:
            raise TextcycleError(f"CTranslate2 generation failed: {_one_line(e)}") from None

    def _collect(self, pending) -> list[list[list[int]]]:
        out = []
        for p in pending:
            try:
                r = p.result()
            except (RuntimeError, ValueError) as e:
                raise TextcycleError(f"CTranslate2 generation failed: {_one_line(e)}") from None
            hyps = []
            for h in r.hypotheses:
                ids = self._ids(h)
                if not ids or ids[-1] != EOS_ID:
                    ids.append(EOS_ID)
                hyps.append(ids)
            out.append(hyps)
        return out

    def logprobs(
        self,
        src_ids: list[list[int]],
        tgt_ids: list[list[int]],
        with_generator: int,
        normalize: bool = True,
        max_batch_size: int = 0,
    ) -> np.ndarray:
        """log p(tgt_i | src_i) under generator `with_generator`, float32 [n]: the mean over the
        target's tokens with `normalize` (the content reward's input), else the sum. Targets
        end in `</s>` (padding after it is ignored); `</s>` counts as a token, as in torch's
        `sequence_logprobs`."""
        if with_generator not in (0, 1):
            raise TextcycleError(f"generator index must be 0 or 1, got {with_generator!r}")
        if len(src_ids) != len(tgt_ids):
            raise TextcycleError(f"logprobs: {len(src_ids)} sources but {len(tgt_ids)} targets")
        if not src_ids:
            return np.zeros(0, dtype=np.float32)
        # CTranslate2 appends </s> to each target and scores it: pass the targets without it
        try:
            results = self._translators[with_generator].score_batch(
                self._tokens(src_ids),
                self._tokens(tgt_ids, strip_eos=True),
                max_batch_size=_sub_batch(len(src_ids), self.threads, max_batch_size),
            )
        except (RuntimeError, ValueError) as e:
            raise TextcycleError(f"CTranslate2 scoring failed: {_one_line(e)}") from None
        f = np.mean if normalize else np.sum
        return np.array([f(r.log_probs) for r in results], dtype=np.float32)

    def style_logits(self, ids: list[list[int]], batch_size: int = 64) -> np.ndarray:
        """The discriminator's logits, float32 [n, 3] (style 0, style 1, generated)."""
        if not len(ids):
            return np.zeros((0, self.discriminator.num_classes), dtype=np.float32)
        # sorted by length, in chunks of 64, so each chunk pads little (160 server texts: 18 ms
        # against 27 ms in one chunk of 256); the result is in the input's order
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), self.discriminator.num_classes), dtype=np.float32)
        for b in range(0, len(order), batch_size):
            chunk = order[b : b + batch_size]
            out[chunk] = self.discriminator(pad_ids([ids[i] for i in chunk]))
        return out

    def style_probs(self, ids: list[list[int]]) -> np.ndarray:
        """[n, 2] p(style 0), p(style 1): the discriminator's two style classes renormalised
        (the 'generated' class left out), as the torch Rewriter's `style_probs`."""
        return detected_style_probs(self.style_logits(ids)).astype(np.float32)


MAX_SUB_BATCH = 128


def _sub_batch(n: int, threads: int, asked: int = 0) -> int:
    """CTranslate2's max_batch_size: what the caller asked, else about n / threads (at most
    MAX_SUB_BATCH), so the inter-op threads share the work; it also sorts by length inside."""
    if asked > 0:
        return asked
    return max(1, min(MAX_SUB_BATCH, -(-n // max(1, threads))))


def _load_translator(folder: Path, t: int, compute_type: str, threads: int):
    ct2 = _ctranslate2()
    d = folder / CT2_DIR / f"to_{t}"
    try:
        # one thread per sub-batch, sub-batches in parallel: measured 577 sentences/s at 2 threads
        # against 366 for one batch on 2 intra-op threads (this model is too small to split a
        # matmul well); `_sub_batch` cuts batches so that every thread gets work
        return ct2.Translator(
            str(d), device="cpu", compute_type=compute_type, inter_threads=max(1, int(threads)), intra_threads=1
        )
    except (RuntimeError, ValueError, OSError) as e:
        raise TextcycleError(
            f"{d}: CTranslate2 could not load it ({_one_line(e)}); "
            f"re-export with: python -m textcycle.ct2_export {folder}"
        ) from None


def _load_sentencepiece(folder: Path):
    import sentencepiece as spm

    f = folder / "tokenizer.model"
    if not f.is_file():
        raise TextcycleError(f"no tokenizer.model in {folder}")
    sp = spm.SentencePieceProcessor()
    try:
        sp.LoadFromSerializedProto(f.read_bytes())
    except (RuntimeError, OSError, TypeError) as e:
        raise TextcycleError(f"{f}: not a valid SentencePiece model ({_one_line(e)})") from None
    if sp.get_piece_size() <= EOS_ID or sp.id_to_piece(EOS_ID) != "</s>":
        raise TextcycleError(f"{f}: expected ids 0 <pad>, 1 <unk>, 2 <s>, 3 </s>")
    return sp
