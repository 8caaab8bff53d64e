"""Rewrite sentences into the other style with a trained textcycle model.

    python -m textcycle.rewrite "the food was cold and the waiter was rude"
    python -m textcycle.rewrite --to negative "great pizza , friendly staff"
    cat reviews.txt | python -m textcycle.rewrite - --json
    python -m textcycle.rewrite --model zh "這家店的服務很差"

One output line per input, in order. Without `--to` the direction comes from the model's own
discriminator (its style guess for the input); style names come from the model's config.
Natural text goes in and comes out: the corpus form (Yelp: lowercased and tokenised) is made
and undone inside. Python: `Rewriter.from_pretrained("yelp").rewrite([...], to="positive")`.

The Rewriter does the text handling; an engine does the networks, in token ids (see
`textcycle.torch_engine` for the interface). This module imports neither torch nor transformers.
"""

from __future__ import annotations

import argparse
import codecs
import io
import itertools
import json
import math
import sys
import unicodedata
from pathlib import Path

import numpy as np

from .cli import check_threads, entry_point, thread_count, write_stdout
from .errors import TextcycleError
from .model_folder import read_model_info, resolve_model_path
from .reward import detected_style_probs, training_reward
from .textnorm import (
    clean,
    decoded_to_corpus_form,
    denormalize,
    model_pieces,
    normalize,
    number_tokens,
    opencc_available,
    protect_symbols,
    restore_numbers,
    restore_symbols,
    script_conversions,
    zh_convert,
)
from .vocab import UNK_ID, decode_ids, encode_ids

MAX_BEAM, MAX_RERANK = 16, 64
MAX_SEED = 2**32 - 1  # CTranslate2 takes an unsigned 32-bit seed
# an input is "unreadable" for a model when at least this share of its pieces are unknown, or
# (English models) of its letters are outside the Latin script
UNREADABLE_SHARE = 0.5
# SentencePiece's longest piece (its default max_sentencepiece_length): a part of an input longer
# than this many characters per token of the model's max length cannot fit the model whole
MAX_CHARS_PER_TOKEN = 16


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    return sum("LATIN" in unicodedata.name(ch, "") for ch in letters) / len(letters)


class Rewriter:
    """A model's text handling (normalising, splitting, numbers, scripts) around an engine."""

    def __init__(self, model=None, *, engine=None, info: dict | None = None, sp=None, warn=_warn):
        """`Rewriter(text_cycle_model)` wraps an in-memory model with the torch engine;
        `from_pretrained` is the usual way in."""
        if model is not None:
            from .torch_engine import TorchEngine

            engine = TorchEngine(model)
            info = {
                "style_names": list(model.style_names),
                "language": model.language,
                "max_length": model.max_length,
                "script": model.script,
                "reward": dict(model.reward),
            }
            sp = model.tokenizer.sp_model
        self.engine, self.sp, self.warn = engine, sp, warn
        self.style_names = list(info["style_names"])
        self.language = info["language"]
        self.max_length = info["max_length"]
        self.script = info.get("script")
        self.reward = info.get("reward") or {"style_weight": 1.0, "content_weight": 1.0}
        # words per piece: the model's token budget, leaving room for sub-word splits
        self.max_words = max(4, int(self.max_length * (1.0 if self.language == "zh" else 0.75)))
        self.max_piece_chars = self.max_length * MAX_CHARS_PER_TOKEN
        self._warned_opencc = False
        self._unknown: dict[str, bool] = {}

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path | None = None,
        engine: str = "auto",
        threads: int = 2,
        device: str = "cpu",
        warn=_warn,
    ) -> "Rewriter":
        """A model folder, a run folder or a bundled name ("yelp" is the default). `engine`:
        "ct2" (CTranslate2), "torch", or "auto" (CTranslate2 where the folder has a copy)."""
        import sentencepiece as spm

        if engine not in ("auto", "ct2", "torch"):
            raise TextcycleError(f"unknown engine {engine!r}: use auto, ct2 or torch")
        check_threads(threads)
        path = resolve_model_path(name_or_path)
        info = read_model_info(path)
        eng = None
        if engine in ("auto", "ct2"):
            from .ct2_engine import CT2Engine, CT2Unavailable, has_ctranslate2

            if engine == "ct2" or has_ctranslate2(path):
                try:
                    eng = CT2Engine.from_folder(path, threads=threads)
                except CT2Unavailable as e:  # stale copy, or ctranslate2 missing
                    if engine == "ct2":
                        raise
                    warn(f"{e}; using the slower torch engine")
            else:
                warn(
                    f"{path} has no CTranslate2 copy; using the slower torch engine "
                    f"(add one with: python -m textcycle.ct2_export {path})"
                )
        if eng is None:
            from .model import TextCycleModel
            from .torch_engine import TorchEngine

            eng = TorchEngine(TextCycleModel.from_pretrained(path), device, threads=threads)
        tok = path / "tokenizer.model"
        try:
            sp = spm.SentencePieceProcessor(model_file=str(tok))
        except (OSError, RuntimeError) as e:
            raise TextcycleError(f"{tok}: not a valid SentencePiece model ({str(e).splitlines()[0]})") from None
        return cls(engine=eng, info=info, sp=sp, warn=warn)

    @property
    def engine_name(self) -> str:
        return self.engine.name

    # ------------------------------------------------------------ helpers
    def style_index(self, style: str | int) -> int:
        """A style name of the model's config (any case) or 0 / 1 (an int, or the ASCII digit: "²"
        and "١" are digits to `str.isdigit` and `int`, never a style here)."""
        if isinstance(style, (int, np.integer)) and not isinstance(style, bool) and style in (0, 1):
            return int(style)
        if isinstance(style, str):
            if style in ("0", "1"):
                return int(style)
            names = [s.lower() for s in self.style_names]
            if style.lower() in names:
                return names.index(style.lower())
        raise TextcycleError(f"unknown style {style!r}: this model knows {', '.join(self.style_names)} (or 0, 1)")

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Ids of each text with `</s>`, cut to the model's max length (as training did)."""
        return encode_ids(self.sp, texts, self.max_length)

    def decode(self, rows: list[list[int]]) -> list[str]:
        """Corpus-form text of id lists (stops at `</s>`, drops special ids)."""
        return decoded_to_corpus_form(decode_ids(self.sp, rows), self.language)

    def style_probs(self, normalized: list[str]) -> np.ndarray:
        """[n, 2] p(style 0), p(style 1) from the model's discriminator (its 'generated' class
        left out and the two styles renormalised): the style a text is detected as."""
        return detected_style_probs(self.engine.style_logits(self.encode(normalized)))

    def unknown_symbol(self, ch: str) -> bool:
        """Whether `ch` is a symbol (emoji, ★; not a letter or a space) that the vocabulary lacks, so
        SentencePiece would make it <unk>. Unknown letters stay <unk>: a rare character inside a
        word (蕃茄) is better left to the model to fill than put back beside its fill (蕃番茄)."""
        if ch not in self._unknown:
            self._unknown[ch] = not (ch.isspace() or ch.isalpha()) and UNK_ID in self.sp.encode(ch)
        return self._unknown[ch]

    def unreadable(self, normalized: str, raw: str) -> str | None:
        """Why the model cannot read an input (a part too long to cut, mostly unknown pieces, or
        another script), or None. Unknown symbols (emoji) do not count, they are kept aside
        (`pieces`); unknown letters do. The length comes first: it needs no encoding, so a
        10-million-character word costs no more memory than its own text."""
        longest = max((len(p) for p in model_pieces(normalized, self.language, self.max_words)), default=0)
        if longest > self.max_piece_chars:
            return (
                f"a part of it is {longest} characters with no sentence end or space to cut it at "
                f"(this model reads at most {self.max_piece_chars})"
            )
        text = "".join(ch for ch in normalized if not self.unknown_symbol(ch))
        ids = self.sp.encode(text)
        if not ids or sum(i == UNK_ID for i in ids) / len(ids) >= UNREADABLE_SHARE:
            return "most of it is unknown to the model's vocabulary"
        if self.language == "en" and _latin_share(raw) < 1 - UNREADABLE_SHARE:
            return "it is not in the Latin script this English model was trained on"
        if self.language == "zh" and not any("CJK" in unicodedata.name(ch, "") for ch in raw):
            if any(ch.isalpha() for ch in raw):
                return "it has no Chinese characters"
        return None

    def prepare(self, text: str) -> tuple[str, str, str | None]:
        """(cleaned input, its corpus form, the script conversion back to the user's script)."""
        raw = clean(text or "")
        into = back = None
        if self.language == "zh" and raw:
            self._check_opencc()
            into, back = script_conversions(raw, self.script)
        return raw, normalize(raw, self.language, zh_convert=into), back

    def pieces(self, normalized: str) -> tuple[list[str], list[list]]:
        """The pieces the model rewrites one by one, with the symbols it lacks taken out
        (`textnorm.protect_symbols`; a piece of symbols only is ""), and those symbols."""
        pieces, symbols = [], []
        for p in model_pieces(normalized, self.language, self.max_words):
            stripped, runs = protect_symbols(p, self.unknown_symbol)
            pieces.append(stripped)
            symbols.append(runs)
        return pieces, symbols

    def finish(
        self,
        source: str,
        outs: list[str],
        pieces: list[str],
        symbols: list[list],
        back: str | None,
        corpus_form: bool = False,
    ) -> str:
        """Rewritten pieces -> the output: symbols back in place, pieces joined, numbers back
        (English), then (unless `corpus_form`) the corpus form undone and the script converted back."""
        spaced = self.language != "zh"
        outs = [restore_symbols(o, p, r, spaced) for o, p, r in zip(outs, pieces, symbols)]
        out = (" " if spaced else "").join(outs)
        if self.language == "en" and outs:
            out = restore_numbers(out, number_tokens(source or ""))
        return out if corpus_form else zh_convert(denormalize(out, self.language), back)

    def _transfer(
        self,
        batches: list[tuple[list[str], int]],
        beam: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
        rerank: int = 1,
    ) -> list[list[str]]:
        """The rewrites of each (texts in corpus form, target style) of `batches`. Without
        `rerank`, all go to the engine at once (CTranslate2 decodes both directions side by side);
        with it, per batch the best of `rerank` candidates by the training reward."""
        if rerank > 1:
            out = []
            for normalized, to in batches:
                texts, scores = self.candidates(normalized, to, rerank, temperature)
                out.append([t[int(i)] for t, i in zip(texts, scores.argmax(1))])
            return out
        requests = [(self.encode(normalized), to) for normalized, to in batches]
        options = dict(beam=beam, sample=sample, temperature=temperature)
        if hasattr(self.engine, "generate_many"):
            rows = self.engine.generate_many(requests, **options)
        else:
            rows = [self.engine.generate(ids, to, **options) for ids, to in requests]
        return [self.decode([r[0] for r in batch_rows]) for batch_rows in rows]

    def candidates(self, normalized: list[str], to: int, n: int, temperature: float = 1.0):
        """The greedy rewrite plus n - 1 samples per input, each scored with the training reward
        (`reward.training_reward`: the discriminator's 3-way p(target style) and the other
        generator's per-token probability of reconstructing the input, weighted as in training).
        Returns (texts [B][n], scores [B, n]); column 0 is greedy."""
        src = self.encode(normalized)
        greedy = self.engine.generate(src, to)
        samples = (
            self.engine.generate(src, to, sample=True, temperature=temperature, num_hypotheses=n - 1)
            if n > 1
            else [[] for _ in src]
        )
        cands = [g[:1] + s for g, s in zip(greedy, samples)]
        flat = [c for row in cands for c in row]
        logits = self.engine.style_logits(flat)
        recon = self.engine.logprobs(flat, [s for s, row in zip(src, cands) for _ in row], 1 - to)
        scores = training_reward(logits, recon, to, self.reward["style_weight"], self.reward["content_weight"])
        texts = self.decode(flat)
        B = len(src)
        return [texts[b * n : (b + 1) * n] for b in range(B)], np.asarray(scores).reshape(B, n)

    # ------------------------------------------------------------ API
    def rewrite(
        self,
        texts: list[str] | str,
        to: str | int | None = None,
        beam: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
        batch_size: int = 128,
        details: bool = False,
        corpus_form: bool = False,
        rerank: int = 1,
        seed: int | None = None,
        number_from: int = 1,
    ):
        """Rewrite each text into style `to` (a name from the model's config or 0/1); without
        `to`, into the style opposite to the one the discriminator sees. Returns strings, or
        with `details`, dicts with source, detected style, target style, rewrite and the
        discriminator's probability that the rewrite is in the target style. `corpus_form`
        returns the rewrite in the corpus's own form (Yelp: lowercased, tokenised), for scoring.
        `rerank` N > 1: the best of the greedy rewrite and N - 1 samples by the training reward.
        An input the model cannot read (another script, mostly unknown pieces) comes back
        unchanged with a warning (`unchanged` in the details); warnings count inputs from
        `number_from`."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        check_decoding(beam, sample, temperature, rerank)
        if batch_size < 1:
            raise TextcycleError("batch size must be at least 1")
        target = None if to is None else self.style_index(to)
        if seed is not None:
            self.engine.set_seed(check_seed(seed))

        # every input becomes one or more pieces in corpus form ("" for a piece of symbols only)
        pieces, symbols, owner = [], [], []
        back = [None] * len(texts)  # Chinese: conversion of the output back into the input's script
        skipped: dict[int, str] = {}
        for i, text in enumerate(texts):
            raw, norm, back[i] = self.prepare(text)
            if raw:
                why = self.unreadable(norm, raw)
                if why:
                    skipped[i] = why
                    self.warn(f"input {i + number_from} is returned unchanged: {why}")
                    continue
            mine, runs = self.pieces(norm)
            pieces += mine
            symbols += runs
            owner += [i] * len(mine)
        real = [k for k, p in enumerate(pieces) if p]  # the pieces the model reads
        detected = [None] * len(texts)
        per_input: list[list[np.ndarray]] = [[] for _ in texts]
        for b in range(0, len(real), batch_size):
            chunk = real[b : b + batch_size]
            for k, p in zip(chunk, self.style_probs([pieces[k] for k in chunk])):
                per_input[owner[k]].append(p)
        for i, ps in enumerate(per_input):
            if ps:
                detected[i] = int(np.mean(ps, axis=0).argmax())
        targets = [target if target is not None else (None if d is None else 1 - d) for d in detected]
        outs, probs_out = [""] * len(pieces), [0.0] * len(pieces)
        jobs = []  # (piece indices, target style): chunks of batch_size, both directions
        for t in (0, 1):
            idx = [k for k in real if targets[owner[k]] == t]
            jobs += [(idx[b : b + batch_size], t) for b in range(0, len(idx), batch_size)]
        hyps = self._transfer([([pieces[k] for k in chunk], t) for chunk, t in jobs], beam, sample, temperature, rerank)
        flat = [h for job_hyps in hyps for h in job_hyps]
        probs = self.style_probs(flat) if flat else np.zeros((0, 2))
        done = 0
        for (chunk, t), job_hyps in zip(jobs, hyps):
            for k, h, pr in zip(chunk, job_hyps, probs[done : done + len(chunk), t].tolist()):
                outs[k], probs_out[k] = h, pr
            done += len(chunk)
        mine_of: list[list[int]] = [[] for _ in texts]
        for k, o in enumerate(owner):
            mine_of[o].append(k)
        results = []
        for i, text in enumerate(texts):
            mine = mine_of[i]
            if i in skipped:
                out = clean(text or "")
            else:
                out = self.finish(
                    text,
                    [outs[k] for k in mine],
                    [pieces[k] for k in mine],
                    [symbols[k] for k in mine],
                    back[i],
                    corpus_form,
                )
            read = [k for k in mine if pieces[k]]
            if not details:
                results.append(out)
                continue
            row = {
                "source": text,
                "detected_style": None if detected[i] is None else self.style_names[detected[i]],
                "target_style": None if targets[i] is None else self.style_names[targets[i]],
                "rewrite": out,
                "style_probability": round(sum(probs_out[k] for k in read) / len(read), 4) if read else None,
            }
            if i in skipped:
                row.update(unchanged=True, reason=skipped[i])
            results.append(row)
        return results[0] if single else results

    def _check_opencc(self) -> None:
        if not self._warned_opencc and not opencc_available():
            self._warned_opencc = True
            self.warn(
                "OpenCC is not installed, so Traditional/Simplified input is not converted "
                "(pip install 'textcycle[zh]')"
            )


def check_seed(seed: int) -> int:
    """A random seed both engines take (CTranslate2: unsigned 32 bits), or a one-line error."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise TextcycleError(f"--seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    return seed


def check_decoding(beam: int, sample: bool, temperature: float, rerank: int) -> None:
    """Decoding options in range, and no combination where one option would silently lose."""
    if not 1 <= beam <= MAX_BEAM:
        raise TextcycleError(f"--beam must be from 1 to {MAX_BEAM}, got {beam}")
    if not 1 <= rerank <= MAX_RERANK:
        raise TextcycleError(f"--rerank must be from 1 to {MAX_RERANK}, got {rerank}")
    if not (math.isfinite(temperature) and 0 < temperature <= 100):
        raise TextcycleError(f"--temperature must be a number above 0 and at most 100, got {temperature}")
    if beam > 1 and sample:
        raise TextcycleError("--beam and --sample do not combine: beam search is deterministic")
    if beam > 1 and rerank > 1:
        raise TextcycleError("--beam and --rerank do not combine: --rerank scores greedy + sampled candidates")
    if sample and rerank > 1:
        raise TextcycleError("--sample and --rerank do not combine: --rerank already samples its candidates")


# ---------------------------------------------------------------- command line


def _decode_bytes(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        _warn(f"{where} is not valid UTF-8 (byte {e.start}); undecodable bytes replaced")
        return data.decode("utf-8", errors="replace")


def _argument_text(arg: str, n: int) -> str:
    """Python hands undecodable argv bytes over as lone surrogates: replace them, with a warning."""
    if any("\udc80" <= ch <= "\udcff" for ch in arg):
        return _decode_bytes(arg.encode("utf-8", "surrogateescape"), f"argument {n}")
    return arg


# byte-order marks of the encodings stdin may come in besides UTF-8; UTF-32 LE's starts with UTF-16 LE's
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _stdin_lines(buf):
    """The lines of binary stream `buf` as text. UTF-8 line by line (undecodable bytes replaced
    with a warning naming the line; a UTF-8 BOM is dropped by `clean`); UTF-16 and UTF-32 with a
    byte-order mark decoded as such. Without a BOM those would split at every 0x0A byte into
    garbage lines, so text that looks like them (NUL bytes in a quarter of its first line) is
    refused with one line before any output."""
    head = buf.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            yield from _wide_lines(buf, head, encoding)
            return
    first = head if head.endswith(b"\n") else head + buf.readline()  # whole lines: split as the stream is
    seen_text = False
    for k, raw in enumerate(itertools.chain(io.BytesIO(first), buf), 1):
        if not seen_text and raw.strip(b"\r\n"):
            seen_text = True
            if raw.count(0) * 4 >= len(raw):
                raise TextcycleError(
                    f"stdin line {k} looks like UTF-16 or UTF-32 without a byte-order mark (NUL "
                    "bytes); convert it to UTF-8 first, e.g. iconv -f UTF-16LE -t UTF-8"
                )
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        yield _decode_bytes(raw, f"stdin line {k}")


def _wide_lines(buf, head: bytes, encoding: str):
    """Lines of UTF-16/UTF-32 text (`head` holds its first bytes, the BOM included), split on "\\n"
    only as UTF-8 input is, decoded block by block; undecodable units replaced with one warning."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending: list[str] = []  # the line being read, in parts: a long line costs no re-joining per block
    warned, block = False, head
    while True:
        text = decoder.decode(block, final=not block)
        if "\ufffd" in text and not warned:
            warned = True
            _warn(f"stdin is {encoding.upper()} with undecodable bytes; they are replaced")
        *ends, rest = text.split("\n")
        for part in ends:
            line = "".join(pending) + part
            pending = []
            yield line[:-1] if line.endswith("\r") else line
        pending.append(rest)
        if not block:
            break
        block = buf.read1(1 << 16)
    last = "".join(pending)
    if last:
        yield last


def iter_inputs(args_texts: list[str]):
    """The command line's sentences, "-" standing for every line of stdin, read as a stream.
    Lines split on "\\n" only ("\\r\\n" accepted), so a form feed or U+2028 inside a line never
    makes two outputs of one input; undecodable bytes are replaced with a warning."""
    for n, t in enumerate(args_texts, 1):
        if t == "-":
            yield from _stdin_lines(sys.stdin.buffer)
        else:
            yield _argument_text(t, n)


def _chunks(items, size: int):
    chunk = []
    for x in items:
        chunk.append(x)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def json_line(obj) -> str:
    """One JSON object on one line, also for readers that split on U+2028/U+2029/U+0085."""
    s = json.dumps(obj, ensure_ascii=False)
    return s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\u0085", "\\u0085")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m textcycle.rewrite",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("texts", nargs="*", help='sentences to rewrite, or "-" to read lines from stdin')
    p.add_argument(
        "--model",
        default="yelp",
        help="bundled name (yelp, zh), model folder or run folder (default: yelp; ./yelp for a folder of that name)",
    )
    p.add_argument(
        "--to", help="target style name (see the model's config) or 0/1; default: the opposite of the detected style"
    )
    p.add_argument("--beam", type=int, default=1, help=f"beam size, 1-{MAX_BEAM} (default 1: greedy)")
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (above 0)")
    p.add_argument(
        "--rerank",
        type=int,
        default=1,
        metavar="N",
        help="pick the best of greedy + N-1 samples by the training reward (default 1: off)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line: source, detected style, rewrite, its style probability",
    )
    p.add_argument("--seed", type=int, default=0, help=f"random seed for --sample and --rerank (0 to {MAX_SEED})")
    p.add_argument(
        "--engine",
        default="auto",
        choices=("auto", "ct2", "torch"),
        help="auto (default): CTranslate2 where the model folder has a copy, else torch",
    )
    p.add_argument("--threads", type=thread_count, default=2, help="CPU threads (default 2)")
    p.add_argument("--batch-size", type=int, default=128, help="sentences per engine call (default 128)")
    p.add_argument(
        "--chunk-lines",
        type=int,
        default=1024,
        help="input lines read, rewritten and written at a time (bounded memory on huge files)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@entry_point
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.texts:
        raise TextcycleError('nothing to rewrite: give sentences as arguments, or "-" to read stdin')
    check_decoding(args.beam, args.sample, args.temperature, args.rerank)
    check_seed(args.seed)
    if args.batch_size < 1 or args.chunk_lines < 1:
        raise TextcycleError("--batch-size and --chunk-lines must be at least 1")
    rewriter = Rewriter.from_pretrained(args.model, engine=args.engine, threads=args.threads)
    if args.to is not None:
        rewriter.style_index(args.to)  # a bad name fails before any work
    bar = None
    if "-" in args.texts and not args.quiet:
        from tqdm.auto import tqdm

        bar = tqdm(unit=" sent", desc="rewrite", file=sys.stderr, mininterval=1.0, dynamic_ncols=True)
    n = 0
    for chunk in _chunks(iter_inputs(args.texts), args.chunk_lines):
        for k, t in enumerate(chunk, n + 1):
            if not clean(t or ""):
                _warn(f"input {k} is empty; its output line is empty")
        results = rewriter.rewrite(
            chunk,
            to=args.to,
            beam=args.beam,
            sample=args.sample,
            temperature=args.temperature,
            details=args.json,
            rerank=args.rerank,
            seed=(args.seed + n) % (MAX_SEED + 1),
            batch_size=args.batch_size,
            number_from=n + 1,
        )
        write_stdout("".join((json_line(r) if args.json else r) + "\n" for r in results))
        n += len(chunk)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
