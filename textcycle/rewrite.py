"""Rewrite sentences into the other style with a trained textcycle model.

    python -m textcycle.rewrite "the food was cold and the waiter was rude"
    python -m textcycle.rewrite --to negative "great pizza , friendly staff"
    cat reviews.txt | python -m textcycle.rewrite - --json
    python -m textcycle.rewrite --model zh "這家店的服務很差"

One output line per input, in order. Without `--to` the direction comes from the model's own
discriminator (its style guess for the input); style names come from the model's config.
Natural text goes in and comes out: the corpus form (Yelp: lowercased and tokenised) is made
and undone inside. Python: `Rewriter.from_pretrained("yelp").rewrite([...], to="positive")`.

This module is the command (arguments, stdin as a stream, output lines); the text handling is
`textcycle.rewriter.Rewriter`, the networks an engine (`textcycle.engines`). It imports neither
torch nor transformers.
"""

from __future__ import annotations

import argparse
import codecs
import io
import itertools
import json
import sys

from .cli import entry_point, thread_count, write_stdout
from .decoding import MAX_BEAM, MAX_RERANK, MAX_SEED, check_decoding, check_seed
from .errors import TextcycleError, warn
from .model_folder import BUNDLED
from .rewriter import Rewriter
from .text.textnorm import clean

__all__ = ["Rewriter", "check_decoding", "check_seed", "main", "MAX_BEAM", "MAX_RERANK", "MAX_SEED"]


# ---------------------------------------------------------------- command line


def _decode_bytes(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        warn(f"{where} is not valid UTF-8 (byte {e.start}); undecodable bytes replaced")
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
            warn(f"stdin is {encoding.upper()} with undecodable bytes; they are replaced")
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
        help=f"bundled name ({', '.join(BUNDLED)}), model folder or run folder (default: yelp; ./yelp for a folder of that name)",
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
        "--no-style-fallback",
        action="store_true",
        help="take the greedy (or beam) rewrite even where the discriminator does not put it in the target "
        "style (default: then the first of a 4-beam's candidates that it does)",
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
                warn(f"input {k} is empty; its output line is empty")
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
            style_fallback=not args.no_style_fallback,
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
