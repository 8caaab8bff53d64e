"""Rewrite sentences into the other style with a trained textcycle model.

    python -m textcycle.rewrite "the food was cold and the waiter was rude"
    python -m textcycle.rewrite --to negative "great pizza , friendly staff"
    cat reviews.txt | python -m textcycle.rewrite - --json
    python -m textcycle.rewrite --model zh "這家店的服務很差"

One output line per input, in order. Without `--to` the direction comes from the model's own
discriminator (its style guess for the input); style names come from the model's config.
Natural text goes in and comes out: the corpus form (Yelp: lowercased and tokenised) is made
and undone inside. Python: `Rewriter.from_pretrained("yelp").rewrite([...], to="positive")`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch

from .errors import TextcycleError
from .model import TextCycleModel
from .models.generator import decode, sequence_logprobs
from .rl import combine_rewards, content_reward
from .textnorm import (clean, decoded_to_corpus_form, denormalize, normalize, script_conversions,
                       zh_convert)
from .tokenizer import PAD_ID

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def _chunks(normalized: str, max_words: int) -> list[str]:
    """A long input split into pieces the model can take: at sentence ends, then every
    `max_words` words (the model was trained on single sentences)."""
    pieces = []
    for sent in _SENTENCE_END.split(normalized):
        words = sent.split(" ") if " " in sent else [sent]
        if len(words) <= max_words:
            pieces.append(sent)
        else:
            pieces += [" ".join(words[i:i + max_words]) for i in range(0, len(words), max_words)]
    return [p for p in pieces if p.strip()]


_ZH_SENTENCE = re.compile(r"[^。！？!?；;…\n]+[。！？!?；;…]*[”」』）)]*|[。！？!?；;…]+")
_ZH_CLAUSE = re.compile(r"[^，,、]+[，,、]*|[，,、]+")


def _zh_chunks(normalized: str, max_chars: int) -> list[str]:
    """Chinese has no spaces: split after sentence ends, a long sentence after commas, and a
    clause longer than `max_chars` every `max_chars` characters. Nothing is dropped: the pieces
    concatenate back to the input."""
    pieces = []
    for sent in _ZH_SENTENCE.findall(normalized):
        if len(sent) <= max_chars:
            pieces.append(sent)
            continue
        cur = ""
        for clause in _ZH_CLAUSE.findall(sent):
            while len(clause) > max_chars:
                if cur:
                    pieces.append(cur)
                    cur = ""
                pieces.append(clause[:max_chars])
                clause = clause[max_chars:]
            if cur and len(cur) + len(clause) > max_chars:
                pieces.append(cur)
                cur = ""
            cur += clause
        if cur:
            pieces.append(cur)
    return [p for p in pieces if p.strip()]


def _restore_numbers(rewrite: str, source: str) -> str:
    """The corpus writes numbers as `_num_`: put the source's numbers back, in order."""
    numbers = _NUMBER.findall(source)
    out = []
    for tok in rewrite.split(" "):
        if tok == "_num_":
            tok = numbers.pop(0) if numbers else "some"
        out.append(tok)
    return " ".join(out)


class Rewriter:
    """A loaded model plus the text handling around it."""

    def __init__(self, model: TextCycleModel, device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.tokenizer = model.tokenizer
        self.style_names = list(model.style_names)
        self.language = model.language
        # words per piece: the model's token budget, leaving room for sub-word splits
        self.max_words = max(4, int(model.max_length * (1.0 if self.language == "zh" else 0.75)))

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path | None = None, device: str = "cpu") -> "Rewriter":
        """A model folder, or a bundled model name ("yelp" is the default)."""
        return cls(TextCycleModel.from_pretrained(name_or_path), device)

    # ------------------------------------------------------------ helpers
    def style_index(self, style: str | int) -> int:
        if isinstance(style, int) or (isinstance(style, str) and style.isdigit()):
            i = int(style)
            if i in (0, 1):
                return i
        else:
            names = [s.lower() for s in self.style_names]
            if style.lower() in names:
                return names.index(style.lower())
        raise TextcycleError(f"unknown style {style!r}: this model knows {', '.join(self.style_names)} (or 0, 1)")

    def _ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        seqs = self.tokenizer.encode_fast(texts, self.model.max_length)
        n = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), n), PAD_ID, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return ids.to(self.device), (ids != PAD_ID).long().to(self.device)

    @torch.no_grad()
    def style_probs(self, normalized: list[str]) -> torch.Tensor:
        """[n, 2] p(style 0), p(style 1) from the model's discriminator (its 'generated' class
        left out and the two styles renormalised)."""
        ids, _ = self._ids(normalized)
        return torch.softmax(self.model.discriminator(ids)[:, :2].float(), -1).cpu()

    @torch.no_grad()
    def _transfer(self, normalized: list[str], to: int, beam: int, sample: bool, temperature: float,
                  rerank: int = 1) -> list[str]:
        if rerank > 1:
            texts, scores = self.candidates(normalized, to, rerank, temperature)
            return [t[int(i)] for t, i in zip(texts, scores.argmax(1))]
        g = self.model.generators[to]
        ids, mask = self._ids(normalized)
        max_new = self.model.max_length + 8
        if beam > 1:
            out = g.generate(input_ids=ids, attention_mask=mask, num_beams=beam, max_new_tokens=max_new,
                             do_sample=False, early_stopping=True)
            out = out[:, 1:]  # generate() starts with the decoder start token
        else:
            out = decode(g, ids, mask, max_new, sample=sample, temperature=temperature)
        rows = [[int(t) for t in row if t != PAD_ID] for row in out.cpu()]
        return decoded_to_corpus_form(self.tokenizer.decode_fast(rows), self.language)

    @torch.no_grad()
    def candidates(self, normalized: list[str], to: int, n: int, temperature: float = 1.0):
        """The greedy rewrite plus n - 1 samples per input, each scored with the training reward:
        harmonic mean of the discriminator's p(target style) and the other generator's per-token
        probability of reconstructing the input (so neither a copy nor a content-free sentence in
        the target style scores well). Returns (texts [B][n], scores [B, n]); column 0 is greedy."""
        g, back = self.model.generators[to], self.model.generators[1 - to]
        ids, mask = self._ids(normalized)
        max_new = self.model.max_length + 8
        rows = [decode(g, ids, mask, max_new)]
        if n > 1:
            rows.append(decode(g, ids, mask, max_new, sample=True, temperature=temperature, num_samples=n - 1))
        B = ids.size(0)
        T = max(r.size(1) for r in rows)
        rows = [torch.nn.functional.pad(r, (0, T - r.size(1)), value=PAD_ID) for r in rows]
        cand = torch.cat([rows[0].view(B, 1, T)] + ([rows[1].view(B, n - 1, T)] if n > 1 else []), 1).view(B * n, T)
        cand_mask = (cand != PAD_ID).long()
        style = torch.softmax(self.model.discriminator(cand)[:, :2].float(), -1)[:, to]
        src = ids.repeat_interleave(n, 0)
        recon = sequence_logprobs(back, cand, cand_mask, src, normalize=True)
        scores = combine_rewards(style, content_reward(recon)).view(B, n)
        texts = self.tokenizer.decode_fast([[int(t) for t in row if t != PAD_ID] for row in cand.cpu()])
        texts = decoded_to_corpus_form(texts, self.language)
        return [texts[b * n:(b + 1) * n] for b in range(B)], scores.cpu()

    # ------------------------------------------------------------ API
    def rewrite(self, texts: list[str] | str, to: str | int | None = None, beam: int = 1, sample: bool = False,
                temperature: float = 1.0, batch_size: int = 64, details: bool = False, corpus_form: bool = False,
                rerank: int = 1):
        """Rewrite each text into style `to` (a name from the model's config or 0/1); without
        `to`, into the style opposite to the one the discriminator sees. Returns strings, or
        with `details`, dicts with source, detected style, target style, rewrite and the
        discriminator's probability that the rewrite is in the target style. `corpus_form`
        returns the rewrite in the corpus's own form (Yelp: lowercased, tokenised), for scoring.
        `rerank` N > 1: the best of the greedy rewrite and N - 1 samples by the training reward
        (style x reconstruction, see `candidates`)."""
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        if beam < 1:
            raise TextcycleError("--beam must be at least 1")
        if rerank < 1:
            raise TextcycleError("--rerank must be at least 1")
        target = None if to is None else self.style_index(to)

        # every input becomes one or more pieces in corpus form
        pieces, owner = [], []
        back = [None] * len(texts)  # Chinese: conversion of the output back into the input's script
        for i, text in enumerate(texts):
            into = None
            if self.language == "zh":
                into, back[i] = script_conversions(clean(text or ""), self.model.script)
            norm = normalize(clean(text or ""), self.language, zh_convert=into)
            chunks = _zh_chunks(norm, self.max_words) if self.language == "zh" else _chunks(norm, self.max_words)
            for p in chunks:
                pieces.append(p)
                owner.append(i)
        detected = [None] * len(texts)
        per_input_probs: list[list[torch.Tensor]] = [[] for _ in texts]
        outs = [""] * len(pieces)
        probs_out = [0.0] * len(pieces)
        for b in range(0, len(pieces), batch_size):
            batch = pieces[b:b + batch_size]
            for j, p in enumerate(self.style_probs(batch)):
                per_input_probs[owner[b + j]].append(p)
        for i, ps in enumerate(per_input_probs):
            if ps:
                detected[i] = int(torch.stack(ps).mean(0).argmax())
        targets = [target if target is not None else (None if d is None else 1 - d) for d in detected]
        for t in (0, 1):
            idx = [k for k, p in enumerate(pieces) if targets[owner[k]] == t]
            for b in range(0, len(idx), batch_size):
                chunk = idx[b:b + batch_size]
                hyps = self._transfer([pieces[k] for k in chunk], t, beam, sample, temperature, rerank)
                probs = self.style_probs(hyps)[:, t].tolist() if hyps else []
                for k, h, pr in zip(chunk, hyps, probs):
                    outs[k], probs_out[k] = h, pr
        results = []
        for i, text in enumerate(texts):
            mine = [k for k, o in enumerate(owner) if o == i]
            norm_out = ("" if self.language == "zh" else " ").join(outs[k] for k in mine)
            out = _restore_numbers(norm_out, text or "") if mine else ""
            if not corpus_form:
                out = zh_convert(denormalize(out, self.language), back[i])
            if not details:
                results.append(out)
                continue
            results.append({
                "source": text,
                "detected_style": None if detected[i] is None else self.style_names[detected[i]],
                "target_style": None if targets[i] is None else self.style_names[targets[i]],
                "rewrite": out,
                "style_probability": round(sum(probs_out[k] for k in mine) / len(mine), 4) if mine else None,
            })
        return results[0] if single else results


# ---------------------------------------------------------------- command line

def _read_stdin() -> list[str]:
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        print(f"warning: stdin is not valid UTF-8 (line {line}, byte {e.start}); "
              "undecodable bytes replaced", file=sys.stderr)
        text = data.decode("utf-8", errors="replace")
    return text.splitlines()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m textcycle.rewrite", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("texts", nargs="*", help='sentences to rewrite, or "-" to read lines from stdin')
    p.add_argument("--model", default="yelp", help="model folder or bundled name (default: yelp)")
    p.add_argument("--to", help="target style name (see the model's config) or 0/1; default: the opposite "
                                "of the detected style")
    p.add_argument("--beam", type=int, default=1, help="beam size (default 1: greedy)")
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--rerank", type=int, default=1, metavar="N",
                   help="pick the best of greedy + N-1 samples by style x reconstruction (default 1: off)")
    p.add_argument("--json", action="store_true", help="one JSON object per line: source, detected style, "
                                                       "rewrite, its style probability")
    p.add_argument("--seed", type=int, default=0, help="random seed for --sample")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not args.texts:
            raise TextcycleError('nothing to rewrite: give sentences as arguments, or "-" to read stdin')
        texts: list[str] = []
        for t in args.texts:
            texts += _read_stdin() if t == "-" else [t]
        torch.manual_seed(args.seed)
        torch.set_num_threads(min(2, torch.get_num_threads()))
        rewriter = Rewriter.from_pretrained(args.model)
        if args.to is not None:
            rewriter.style_index(args.to)  # a bad name fails before any work
        for n, t in enumerate(texts, 1):
            if not clean(t or ""):
                print(f"warning: input {n} is empty; its output line is empty", file=sys.stderr)
        results = rewriter.rewrite(texts, to=args.to, beam=args.beam, sample=args.sample,
                                   temperature=args.temperature, details=args.json, rerank=args.rerank)
        out = sys.stdout
        for r in results:
            out.write((json.dumps(r, ensure_ascii=False) if args.json else r) + "\n")
        out.flush()
        return 0
    except TextcycleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
