"""The CTranslate2 engine: a model folder's generators on CTranslate2, its discriminator in numpy,
its SentencePiece vocabulary; no torch and no transformers (tests/test_layout.py checks it).

    from textcycle.engines.ct2 import CT2Engine
    from textcycle.model_folder import ModelFolder

    engine = CT2Engine.from_folder(ModelFolder.open("yelp"), threads=2)  # CT2Unavailable: use torch
    engine.generate(["the food was cold ."], to=1)   # [["the food was warm ."]]

The copies (`ct2/`, `engines.ct2_format`) come from `save_pretrained`, the bundle command or
`python -m textcycle.ct2_export MODEL_DIR`. The engine speaks texts in corpus form
(`engines.pieces`); its id methods (`generate_ids`, `style_logits_ids`, `logprobs_ids`) take
SentencePiece id lists, each ending in `</s>` (= 3), as the trainer's self-training pairs are.

Errors: a folder with no usable copy raises `CT2Unavailable` (a `TextcycleError`; the caller
falls back to torch with a note); a copy that is there but corrupt or truncated raises a plain
`TextcycleError` with a one-line message, checked against the manifest before CTranslate2 reads
a byte (so never a native crash).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import TextcycleError
from ..model_folder import TOKENIZER, ModelFolder
from ..text.vocab import BOS_ID, EOS_ID, PAD_ID
from .ct2_format import CT2Unavailable, check_files, generator_dir, one_line, read_json, read_manifest, redo
from .discriminator import NumpyDiscriminator, load_discriminator, logits_by_length
from .pieces import SentencePieceTexts

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


def _ctranslate2():
    try:
        import ctranslate2
    except ImportError:
        raise CT2Unavailable("the ctranslate2 package is not installed (pip install ctranslate2)") from None
    return ctranslate2


class CT2Engine(SentencePieceTexts):
    """Both generators as CTranslate2 translators, the discriminator in numpy, and the
    SentencePiece vocabulary, from one model folder. `generators`/`to` index as in
    `TextCycleModel`: 0 = G_yx (rewrites into style 0), 1 = G_xy (into style 1).

    Attributes: `folder` (the ModelFolder), `language`, `max_length` (its config's),
    `quantization` (how the copies are stored), `compute_type` (what CTranslate2 computes in),
    `threads`, `max_new_tokens` (default generation budget: max_length + 8, as the torch path),
    `name` ("ctranslate2")."""

    name = ENGINE_NAME
    cost_factor = 1  # the unit

    def __init__(
        self,
        folder: ModelFolder,
        translators: list,
        discriminator: NumpyDiscriminator,
        sp,
        manifest: dict,
        threads: int,
        vocabulary: list[str] | None = None,
    ):
        self.folder = folder
        self._translators = translators
        self.discriminator = discriminator
        self.sp = sp
        self.manifest = manifest
        self.threads = threads
        self.language = folder.language
        self.max_length = folder.max_length
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
    def from_folder(
        cls, folder: ModelFolder, threads: int = 2, compute_type: str | None = None, verify: bool = True
    ) -> "CT2Engine":
        """Load a model folder that has CTranslate2 copies.

        `threads`: CTranslate2 intra-op threads per generator. `compute_type`: None computes in
        the type the copies were stored in (float16/bfloat16 storage: float32 where the CPU has
        no fast half-precision path), or any CTranslate2 compute type ("float32", "int8", ...).
        `verify`: also check the SHA-256 of every file (about 70 ms for the bundled model);
        sizes are always checked. Raises `CT2Unavailable` (fall back to torch) or
        `TextcycleError` (a corrupt folder)."""
        path = folder.path
        manifest = read_manifest(path)
        ct2 = _ctranslate2()
        check_files(path, manifest, verify)
        sp = load_sentencepiece(folder)
        supported = ct2.get_supported_compute_types("cpu")
        if compute_type is None:
            stored = manifest.get("quantization") or "default"
            compute_type = stored if stored in supported else _CPU_FALLBACK.get(stored, "default")
        elif compute_type not in supported and compute_type not in ("default", "auto"):
            raise TextcycleError(
                f"compute type {compute_type!r} is not available on this CPU "
                f"(available: {', '.join(sorted(supported))})"
            )
        translators = [_load_translator(path, t, compute_type, threads) for t in (0, 1)]
        vocabs = []
        for t in (0, 1):
            f = generator_dir(path, t) / "shared_vocabulary.json"
            v = read_json(f, "CTranslate2 vocabulary") if f.is_file() else None
            if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                raise TextcycleError(f"{f} is corrupt: expected a list of tokens")
            vocabs.append(v)
        n = sp.get_piece_size()
        pieces = [sp.id_to_piece(i) for i in range(n)]
        for v in vocabs:
            if v is not None and (len(v) < n or v[:n] != pieces or v != (vocabs[0] or v)):
                raise CT2Unavailable(
                    f"the CTranslate2 copy in {folder.ct2} has another vocabulary than "
                    f"{TOKENIZER} (stale); {redo(path)}"
                )
        disc = load_discriminator(folder)
        return cls(folder, translators, disc, sp, manifest, max(1, int(threads)), vocabs[0])

    # ------------------------------------------------------------ ids <-> CTranslate2 tokens
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

    # ------------------------------------------------------------ the engine, on ids
    def set_seed(self, seed: int) -> None:
        """Make the following sampling calls reproducible. CTranslate2 (4.8.5, measured) seeds
        each worker thread's generator when the thread starts, so `set_random_seed` alone does
        not reach translators already loaded: each one is reloaded (from the page cache, tens of
        ms) before each sampling call, seeded with seed + the call's number, and the call runs as
        one batch on one thread (with several inter-op threads, which thread takes which
        sub-batch is not fixed, and neither would the samples be)."""
        self._seed, self._sample_calls = int(seed), 0

    def generate_ids(
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
        return self.generate_many_ids(
            [(src_ids, to)],
            beam=beam,
            sample=sample,
            temperature=temperature,
            num_hypotheses=num_hypotheses,
            max_new_tokens=max_new_tokens,
            top_k=top_k,
            max_batch_size=max_batch_size,
        )[0]

    def generate_many_ids(self, requests: list[tuple[list[list[int]], int]], **options) -> list[list[list[list[int]]]]:
        """`generate_ids(src_ids, to, **options)` for each `(src_ids, to)` of `requests`, all handed to
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
            self._translators[to] = _load_translator(self.folder.path, to, self.compute_type, self.threads)
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
            raise TextcycleError(f"CTranslate2 generation failed: {one_line(e)}") from None

    def _collect(self, pending) -> list[list[list[int]]]:
        out = []
        for p in pending:
            try:
                r = p.result()
            except (RuntimeError, ValueError) as e:
                raise TextcycleError(f"CTranslate2 generation failed: {one_line(e)}") from None
            hyps = []
            for h in r.hypotheses:
                ids = self._ids(h)
                if not ids or ids[-1] != EOS_ID:
                    ids.append(EOS_ID)
                hyps.append(ids)
            out.append(hyps)
        return out

    def logprobs_ids(
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
            raise TextcycleError(f"CTranslate2 scoring failed: {one_line(e)}") from None
        f = np.mean if normalize else np.sum
        return np.array([f(r.log_probs) for r in results], dtype=np.float32)

    def style_logits_ids(self, ids: list[list[int]], batch_size: int = 64) -> np.ndarray:
        """The discriminator's logits, float32 [n, 3] (style 0, style 1, generated)."""
        return logits_by_length(self.discriminator, ids, batch_size)


MAX_SUB_BATCH = 128


def _sub_batch(n: int, threads: int, asked: int = 0) -> int:
    """CTranslate2's max_batch_size: what the caller asked, else about n / threads (at most
    MAX_SUB_BATCH), so the inter-op threads share the work; it also sorts by length inside."""
    if asked > 0:
        return asked
    return max(1, min(MAX_SUB_BATCH, -(-n // max(1, threads))))


def _load_translator(folder: Path, t: int, compute_type: str, threads: int):
    ct2 = _ctranslate2()
    d = generator_dir(folder, t)
    try:
        # one thread per sub-batch, sub-batches in parallel: measured 577 sentences/s at 2 threads
        # against 366 for one batch on 2 intra-op threads (this model is too small to split a
        # matmul well); `_sub_batch` cuts batches so that every thread gets work
        return ct2.Translator(
            str(d), device="cpu", compute_type=compute_type, inter_threads=max(1, int(threads)), intra_threads=1
        )
    except (RuntimeError, ValueError, OSError) as e:
        raise TextcycleError(f"{d}: CTranslate2 could not load it ({one_line(e)}); {redo(folder)}") from None


def load_sentencepiece(folder: ModelFolder):
    import sentencepiece as spm

    f = folder.file(TOKENIZER)
    sp = spm.SentencePieceProcessor()
    try:
        sp.LoadFromSerializedProto(f.read_bytes())
    except (RuntimeError, OSError, TypeError) as e:
        raise TextcycleError(f"{f}: not a valid SentencePiece model ({one_line(e)})") from None
    if sp.get_piece_size() <= EOS_ID or sp.id_to_piece(EOS_ID) != "</s>":
        raise TextcycleError(f"{f}: expected ids 0 <pad>, 1 <unk>, 2 <s>, 3 </s>")
    return sp
