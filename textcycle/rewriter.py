"""The Rewriter: natural text in, natural text out, around an engine (`engines.base.Engine`).

    rw = Rewriter.from_pretrained("yelp")          # ModelFolder.open, then engines.load
    rw.rewrite(["the food was cold"], to="positive")

One call goes through five named stages; each input is normalised once:
1. `pieces`: the input cleaned, a Chinese script converted into the model's, brought into corpus
   form (an LM model's engine reads natural text: `info["form"]`); refused when the model cannot
   read it (`unreadable`), else cut into pieces it can take, unknown symbols set aside;
2. `detect`: the discriminator's style of each input (the mean over its pieces);
3. `candidates`: per piece, its rewrites into the target style: one (greedy, beam, a sample), or
   with rerank N the greedy rewrite and N - 1 samples scored with the training reward;
4. `choose`: per piece, the best candidate that keeps its numbers and names and invents no loop
   (`text.keep`; a greedy rewrite that failed, or with the style fallback that its discriminator
   does not put in the target style, gets a beam's candidates first, `repair`), then the first in
   the target style, else the piece as it was;
5. `assemble`: per input, pieces joined, symbols and numbers put back, corpus form undone, names
   recased, script converted back; with details, the style probability and (rerank) candidates.

This file is over 400 lines: the five stages of one rewrite stay in one file, read top to bottom.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import engines
from .cli import check_threads
from .decoding import check_decoding, check_seed
from .errors import TextcycleError, warn
from .model_folder import ModelFolder
from .text.keep import invented_loop, kept, mask_numbers, names, recase
from .text.reward import detected_style_probs, training_reward
from .text.textnorm import (
    clean,
    denormalize,
    model_pieces,
    normalize,
    opencc_available,
    protect_symbols,
    restore_numbers,
    restore_symbols,
    script_conversions,
    yelp_tokenize,
    zh_convert,
)

# an input is "unreadable" for a model when at least this share of its pieces are unknown, or
# (English models) of its letters are outside the Latin script
UNREADABLE_SHARE = 0.5
# SentencePiece's longest piece (its default max_sentencepiece_length): a part of an input longer
# than this many characters per token of the model's max length cannot fit the model whole
MAX_CHARS_PER_TOKEN = 16
# the beam that gives a greedy rewrite which lost a number or a name, or (style fallback) did not
# reach the target style, its further candidates
REPAIR_BEAM = 4
# the discriminator's p(target style) from which a rewrite counts as in the target style
IN_STYLE = 0.5


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    return sum("LATIN" in unicodedata.name(ch, "") for ch in letters) / len(letters)


@dataclass
class Input:
    """One input on its way through the stages."""

    text: str  # as given
    raw: str = ""  # cleaned
    back: str | None = None  # Chinese: the conversion of the output back into the input's script
    pieces: list[str] = field(default_factory=list)  # corpus form; "" for a piece of symbols only
    symbols: list[list] = field(default_factory=list)  # the symbols taken out of each piece
    numbers: list[str] = field(default_factory=list)  # the number strings masked as _num_ (corpus form)
    names: list[str] = field(default_factory=list)  # the names in it, as written (text.keep)
    unchanged: str | None = None  # why the model cannot read it
    detected: int | None = None
    target: int | None = None
    rewrites: list[str] = field(default_factory=list)  # per piece ("" where the model read nothing)
    probs: list[float] = field(default_factory=list)  # the rewrites' style probabilities (pieces read)
    # rerank, per piece read: (candidates, scores, the index taken or None, which keep the numbers)
    candidates: list[tuple] = field(default_factory=list)


class Rewriter:
    """A model's text handling (normalising, splitting, numbers, scripts) around an engine."""

    def __init__(self, model=None, *, engine=None, info: dict | None = None, warn=warn):
        """`Rewriter(text_cycle_model)` wraps an in-memory model with the torch engine; else an
        engine and the model's `info` (`ModelFolder.info`: style names, language, max length,
        script, reward weights). `from_pretrained` is the usual way in."""
        if model is not None:
            from .engines.torch import TorchEngine

            engine = TorchEngine(model)
            info = {
                "style_names": list(model.style_names),
                "language": model.language,
                "max_length": model.max_length,
                "script": model.script,
                "reward": dict(model.reward),
            }
        self.engine, self.warn = engine, warn
        self.style_names = list(info["style_names"])
        self.language = info["language"]
        self.max_length = info["max_length"]
        self.script = info.get("script")
        self.reward = info.get("reward") or {"style_weight": 1.0, "content_weight": 1.0}
        # what the engine reads and writes: "corpus" form (normalised) or "natural" text (an LM)
        self.natural = info.get("form", "corpus") == "natural"
        # words per piece: the model's token budget, leaving room for sub-word splits (an LM's BPE
        # splits natural text, punctuation attached, into more tokens per word)
        per_token = 1.0 if self.language == "zh" else (0.5 if self.natural else 0.75)
        self.max_words = max(4, int(self.max_length * per_token))
        self.max_piece_chars = self.max_length * MAX_CHARS_PER_TOKEN
        self._warned_opencc = False
        self._unknown: dict[str, bool] = {}

    @classmethod
    def from_pretrained(
        cls,
        model: ModelFolder | str | Path | None = None,
        engine: str = "auto",
        threads: int = 2,
        device: str = "cpu",
        warn=warn,
    ) -> "Rewriter":
        """A ModelFolder, a model folder, a run folder or a bundled name ("yelp" is the default).
        `engine`: "ct2" (CTranslate2), "torch", or "auto" (CTranslate2 where the folder has a copy)."""
        if engine not in engines.KINDS:
            raise TextcycleError(f"unknown engine {engine!r}: use {', '.join(engines.KINDS)}")
        check_threads(threads)
        folder = ModelFolder.open(model)
        rw = cls(engine=engines.load(folder, engine, threads, device, warn), info=folder.info, warn=warn)
        rw.folder = folder
        return rw

    @property
    def engine_name(self) -> str:
        return self.engine.name

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

    # ------------------------------------------------------------ 1. pieces
    def pieces(self, text: str, number: int = 1) -> Input:
        """The input cleaned, in corpus form and cut into the pieces the model rewrites, or marked
        unchanged (with a warning naming input `number`) when the model cannot read it."""
        x = Input(text, raw=clean(text or ""))
        into = None
        if self.language == "zh" and x.raw:
            self._check_opencc()
            into, x.back = script_conversions(x.raw, self.script)
        if self.language == "en":
            x.names = names(x.raw)
        if self.natural:  # an LM reads text as people write it
            normalized = zh_convert(x.raw, into)
        elif self.language == "en":  # every number a _num_ (text.keep), put back in `assemble`
            normalized, x.numbers = mask_numbers(yelp_tokenize(x.raw, numbers=False))
        else:
            normalized = normalize(x.raw, self.language, zh_convert=into)
        if x.raw:
            x.unchanged = self.unreadable(normalized, x.raw)
            if x.unchanged:
                self.warn(f"input {number} is returned unchanged: {x.unchanged}")
                return x
        for p in model_pieces(normalized, self.language, self.max_words):
            stripped, runs = protect_symbols(p, self.unknown_symbol)
            x.pieces.append(stripped)
            x.symbols.append(runs)
        return x

    def unknown_symbol(self, ch: str) -> bool:
        """Whether `ch` is a symbol (emoji, ★; not a letter or a space) that the vocabulary lacks, so
        the tokenizer would make it <unk>. Unknown letters stay <unk>: a rare character inside a
        word (蕃茄) is better left to the model to fill than put back beside its fill (蕃番茄)."""
        if ch not in self._unknown:
            self._unknown[ch] = not (ch.isspace() or ch.isalpha()) and self.engine.count_unknown(ch)[0] > 0
        return self._unknown[ch]

    def unreadable(self, normalized: str, raw: str) -> str | None:
        """Why the model cannot read an input (a part too long to cut, mostly unknown pieces, or
        another script), or None. Unknown symbols (emoji) do not count, they are kept aside
        (`pieces`); unknown letters do. The length comes first: it needs no tokenising, so a
        10-million-character word costs no more memory than its own text."""
        longest = max((len(p) for p in model_pieces(normalized, self.language, self.max_words)), default=0)
        if longest > self.max_piece_chars:
            return (
                f"a part of it is {longest} characters with no sentence end or space to cut it at "
                f"(this model reads at most {self.max_piece_chars})"
            )
        unknown, tokens = self.engine.count_unknown("".join(ch for ch in normalized if not self.unknown_symbol(ch)))
        if not tokens or unknown / tokens >= UNREADABLE_SHARE:
            return "most of it is unknown to the model's vocabulary"
        if self.language == "en" and _latin_share(raw) < 1 - UNREADABLE_SHARE:
            return "it is not in the Latin script this English model was trained on"
        if self.language == "zh" and not any("CJK" in unicodedata.name(ch, "") for ch in raw):
            if any(ch.isalpha() for ch in raw):
                return "it has no Chinese characters"
        return None

    # ------------------------------------------------------------ 2. detect
    def style_probs(self, texts: list[str]) -> np.ndarray:
        """[n, 2] p(style 0), p(style 1) of corpus-form texts from the model's discriminator (its
        'generated' class left out and the two styles renormalised): the style a text is in."""
        return detected_style_probs(self.engine.style_logits(texts)) if texts else np.zeros((0, 2))

    def detect(self, inputs: list[Input], batch_size: int) -> None:
        """Each readable input's style: the discriminator's mean over its pieces."""
        read = [(x, p) for x in inputs for p in x.pieces if p]
        per_input: dict[int, list[np.ndarray]] = {}
        for b in range(0, len(read), batch_size):
            chunk = read[b : b + batch_size]
            for (x, _), p in zip(chunk, self.style_probs([p for _, p in chunk])):
                per_input.setdefault(id(x), []).append(p)
        for x in inputs:
            if id(x) in per_input:
                x.detected = int(np.mean(per_input[id(x)], axis=0).argmax())

    # ------------------------------------------------------------ 3. candidates
    def candidates(
        self,
        batches: list[tuple[list[str], int]],
        n: int = 1,
        beam: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
    ) -> list[tuple[list[list[str]], np.ndarray | None]]:
        """For each (pieces in corpus form, target style) of `batches`: per piece its candidate
        rewrites [B][n] and, with n > 1, their scores [B, n] by the training reward (the
        discriminator's 3-way p(target style) and the other generator's per-token probability of
        reconstructing the piece, weighted as in training; column 0 is the greedy rewrite).
        The batches go to the engine together (CTranslate2 decodes both directions side by side);
        seeded samples are drawn batch after batch, so a seed gives the same candidates."""
        if n == 1:
            rows = self.engine.generate_many(batches, beam=beam, sample=sample, temperature=temperature)
            return [(r, None) for r in rows]
        greedy = self.engine.generate_many(batches)
        samples = self.engine.generate_many(batches, sample=True, temperature=temperature, num_hypotheses=n - 1)
        out = []
        for (texts, to), g, s in zip(batches, greedy, samples):
            cands = [gi[:1] + si for gi, si in zip(g, s)]
            flat = [c for row in cands for c in row]
            logits = self.engine.style_logits(flat)
            recon = self.engine.logprobs(flat, [t for t, row in zip(texts, cands) for _ in row], 1 - to)
            w = self.reward
            scores = training_reward(logits, recon, to, w["style_weight"], w["content_weight"])
            out.append((cands, np.asarray(scores).reshape(len(texts), n)))
        return out

    # ------------------------------------------------------------ 4. choose
    def keeps(self, x: Input, j: int, candidate: str) -> tuple[bool, int]:
        """(whether `candidate` keeps every number of piece j of x, is not empty and invents no
        loop, how many of its names)."""
        source, candidate = x.pieces[j], str(candidate)
        same, n = kept(source, candidate, x.names, corpus_form=not self.natural)
        return same and bool(candidate.strip()) and not invented_loop(source, candidate), n

    def repair(self, jobs: list, found: list, beam: int = 1, style: bool = False) -> None:
        """A single rewrite per piece (greedy, beam, a sample) that lost a number or a name, or loops, or
        (`style`) that the discriminator does not put in the target style, gets the best of a beam
        (`REPAIR_BEAM` wide, or the asked beam if wider) as further candidates."""
        todo = {}  # batch -> the rows to repair
        for k, ((job, t), (cands, scores)) in enumerate(zip(jobs, found)):
            if scores is not None:
                continue
            off = self.style_probs([str(row[0]) for row in cands])[:, t] < IN_STYLE if style else [False] * len(cands)
            for b, ((x, j), row) in enumerate(zip(job, cands)):
                same, n = self.keeps(x, j, row[0])
                if not same or n < self.keeps(x, j, x.pieces[j])[1] or off[b]:
                    todo.setdefault(k, []).append(b)
        requests = [([jobs[k][0][b][0].pieces[jobs[k][0][b][1]] for b in rows], jobs[k][1]) for k, rows in todo.items()]
        width = max(REPAIR_BEAM, beam)
        more = self.engine.generate_many(requests, beam=width, num_hypotheses=width) if requests else []
        for (k, rows), hyps in zip(todo.items(), more):
            for b, h in zip(rows, hyps):
                found[k][0][b] = found[k][0][b][:1] + list(h)

    def choose(self, jobs: list, found: list, style: bool = False) -> list[list[int | None]]:
        """Per batch, per piece: the index of the candidate to take. Of the candidates that keep
        every number of the piece, the one with the most of its names, then the highest score,
        or without scores (with `style`, the first in the target style by the discriminator, then)
        the first;
        None, the piece as it was, when none keeps its numbers (a rewrite never loses or invents
        a number)."""
        out = []
        for (job, t), (cands, scores) in zip(jobs, found):
            judged = style and scores is None
            several = [c for row in cands if len(row) > 1 for c in row] if judged else []
            in_style = iter(self.style_probs([str(c) for c in several])[:, t] >= IN_STYLE)
            picked = []
            for b, ((x, j), row) in enumerate(zip(job, cands)):
                flags = [self.keeps(x, j, c) for c in row]
                styled = [bool(next(in_style)) for _ in row] if judged and len(row) > 1 else [False] * len(row)
                ok = [i for i, (same, _) in enumerate(flags) if same]
                keys = [(flags[i][1], styled[i], -i) if scores is None else (flags[i][1], scores[b][i]) for i in ok]
                picked.append(ok[keys.index(max(keys))] if ok else None)
            out.append(picked)
        return out

    # ------------------------------------------------------------ 5. assemble
    def assemble(self, x: Input, rewrites: list[str], corpus_form: bool = False) -> str:
        """An input's rewritten pieces -> its output: symbols back in place, pieces joined, numbers
        back (English, corpus form), then (unless `corpus_form`) the corpus form undone and the
        script converted back. A natural-form engine's output is already natural (`corpus_form`:
        normalised). An input the model could not read comes back as it was (cleaned)."""
        if x.unchanged:
            return x.raw
        spaced = self.language != "zh"
        outs = [restore_symbols(o, p, r, spaced) for o, p, r in zip(rewrites, x.pieces, x.symbols)]
        out = (" " if spaced else "").join(outs)
        if self.natural:
            if corpus_form:  # as the small models' corpus-form outputs: digits kept, as the references keep them
                return yelp_tokenize(out, numbers=False) if self.language == "en" else normalize(out, self.language)
            return zh_convert(out, x.back)
        if self.language == "en" and outs:
            out = restore_numbers(out, x.numbers)
        if corpus_form:
            return out
        return recase(zh_convert(denormalize(out, self.language), x.back), x.raw, x.names)

    def details(self, x: Input, output: str, candidates: bool) -> dict:
        """The `--json` row of an input (and, for the server, its rerank candidates)."""
        row = {
            "source": x.text,
            "detected_style": None if x.detected is None else self.style_names[x.detected],
            "target_style": None if x.target is None else self.style_names[x.target],
            "rewrite": output,
            "style_probability": round(sum(x.probs) / len(x.probs), 4) if x.probs else None,
        }
        if x.unchanged:
            row.update(unchanged=True, reason=x.unchanged)
        if candidates:
            row["candidates"] = self.whole_candidates(x, output)
        return row

    def whole_candidates(self, x: Input, output: str) -> list[dict]:
        """Rerank candidates as whole texts, best first: the output (score: the mean of the scores
        of the candidates its pieces took; a piece kept as it was counts its lowest), and candidate
        j = the pieces' j-th candidates joined (score: their mean) where each of them keeps its
        piece's numbers; duplicates merged, so the alternatives a user sees include the answer."""
        if not x.candidates:
            return []
        texts = [c[0] for c in x.candidates]
        scores = np.stack([c[1] for c in x.candidates]).astype(np.float64)  # [pieces read, n]
        taken = [c[1][c[2]] if c[2] is not None else c[1].min() for c in x.candidates]

        def whole(chosen: list[str]) -> str:
            it = iter(chosen)
            return self.assemble(x, [next(it) if p else "" for p in x.pieces])

        merged = {output: float(np.mean(taken))}
        for j in range(scores.shape[1]):
            if not all(c[3][j] for c in x.candidates):
                continue  # a piece's j-th candidate lost a number: no whole text of it is offered
            text = whole([row[j] for row in texts])
            merged[text] = max(merged.get(text, -np.inf), float(scores[:, j].mean()))
        return [{"text": t, "score": round(s, 4)} for t, s in sorted(merged.items(), key=lambda kv: -kv[1])]

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
        candidates: bool = False,
        style_fallback: bool = True,
    ):
        """Rewrite each text into style `to` (a name or 0/1); without `to`, into the style opposite
        to the discriminator's. Returns strings, or with `details` the `--json` rows (source,
        detected and target style, rewrite, the discriminator's p(target style); with `candidates`
        and `rerank` > 1 the scored candidates). `corpus_form`: the rewrite in the corpus's form
        (Yelp: lowercased, tokenised), for scoring. `rerank` N > 1: the best of the greedy rewrite
        and N - 1 samples by the training reward. `style_fallback` (greedy or beam): a rewrite the
        discriminator does not put in the target style gets a beam's best as alternatives, and
        the first of them in the target style is taken. An input the model cannot read comes back
        unchanged with a warning counting inputs from `number_from` (`unchanged` in the details)."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        check_decoding(beam, sample, temperature, rerank)
        if batch_size < 1:
            raise TextcycleError("batch size must be at least 1")
        target = None if to is None else self.style_index(to)
        if seed is not None:
            self.engine.set_seed(check_seed(seed))

        inputs = [self.pieces(t, i + number_from) for i, t in enumerate(texts)]
        self.detect(inputs, batch_size)
        for x in inputs:
            x.target = target if target is not None else (None if x.detected is None else 1 - x.detected)
            x.rewrites = [""] * len(x.pieces)
        jobs = []  # (the pieces, as (input, piece index), target style): batch_size at a time, both directions
        for t in (0, 1):
            read = [(x, j) for x in inputs if x.target == t for j, p in enumerate(x.pieces) if p]
            jobs += [(read[b : b + batch_size], t) for b in range(0, len(read), batch_size)]
        found = self.candidates(
            [([x.pieces[j] for x, j in job], t) for job, t in jobs], rerank, beam, sample, temperature
        )
        style = style_fallback and not sample
        if rerank == 1:
            self.repair(jobs, found, beam, style=style)
        picked = self.choose(jobs, found, style)
        chosen = [
            [x.pieces[j] if i is None else cands[b][i] for b, ((x, j), i) in enumerate(zip(job, ids))]
            for (job, _), ids, (cands, _) in zip(jobs, picked, found)
        ]
        # the rewrite's style judged as text (a plain str), as an input's is: what its reader gets
        probs = self.style_probs([str(h) for hs in chosen for h in hs])
        k = 0
        for (job, t), hs, ids, (cands, scores) in zip(jobs, chosen, picked, found):
            for b, ((x, j), h) in enumerate(zip(job, hs)):
                x.rewrites[j] = h
                x.probs.append(float(probs[k, t]))
                if scores is not None:
                    kept_numbers = [self.keeps(x, j, c)[0] for c in cands[b]]
                    x.candidates.append((cands[b], scores[b], ids[b], kept_numbers))
                k += 1
        results = []
        for x in inputs:
            out = self.assemble(x, x.rewrites, corpus_form)
            results.append(self.details(x, out, candidates and rerank > 1) if details else out)
        return results[0] if single else results

    def _check_opencc(self) -> None:
        if not self._warned_opencc and not opencc_available():
            self._warned_opencc = True
            self.warn(
                "OpenCC is not installed, so Traditional/Simplified input is not converted "
                "(pip install opencc-python-reimplemented)"
            )
