"""What the engine thread does with one batch: `Rewriter.rewrite`, plus rerank candidates.

`rewrite_batch(rw, texts, to, beam, rerank)` returns per text the dict of `rewrite --json`
(source, detected_style, target_style, rewrite, style_probability; unchanged and reason for an
input the model cannot read). With rerank N > 1 each rewritable text also gets `candidates`:
the greedy rewrite and N - 1 samples, each with its training-reward score (`Rewriter.candidates`),
duplicates merged, best first; its `rewrite` is the best candidate, so the alternatives a user
sees always include the answer. A long input that the rewriter cuts into pieces gets per piece
the best candidate for its rewrite, and candidate j = the pieces' j-th candidates joined (score:
their mean).

`text_cost(text, candidates)` estimates, before a text is queued, the engine work it makes, so
that the server can bound the work it admits, not only the number of texts.
"""

from __future__ import annotations

import numpy as np

CHUNK = 64  # pieces per engine call, as Rewriter.rewrite's batch_size


def text_cost(text: str, candidates: int = 1) -> int:
    """About the engine work of rewriting `text`, in token x candidate units: its tokens (about
    one per 4 bytes of UTF-8: a word piece in English, a character or two in Chinese; summed
    over its pieces, pieces x length) times the sequences decoded per piece (rerank N or beam N:
    N). Cheap on purpose: it runs on the event loop for every text before it is queued."""
    return (1 + len(text.encode("utf-8", "surrogatepass")) // 4) * candidates


def rewrite_batch(rw, texts: list[str], to: int | None, beam: int = 1, rerank: int = 1) -> list[dict]:
    # the whole batch in one engine call per direction (the batcher already capped its size)
    rows = rw.rewrite(texts, to=to, beam=beam, rerank=1, details=True, batch_size=max(CHUNK, len(texts)))
    if rerank > 1:
        add_candidates(rw, rows, rerank)
    return rows


def _chunked_candidates(rw, pieces: list[str], to: int, n: int):
    texts, scores = [], []
    for b in range(0, len(pieces), CHUNK):
        t, s = rw.candidates(pieces[b : b + CHUNK], to, n)
        texts += t
        scores += list(np.asarray(s, dtype=np.float64))
    return texts, scores


def _style_probability(rw, texts: list[str], to: int) -> list[float]:
    out = []
    for b in range(0, len(texts), CHUNK):
        out += rw.style_probs(texts[b : b + CHUNK])[:, to].tolist()
    return out


def add_candidates(rw, rows: list[dict], n: int) -> None:
    """Give each rewritable row its rerank candidates, and the best one as its rewrite."""
    todo = {0: [], 1: []}  # target style -> [(row index, its pieces, their symbols, back conversion)]
    for i, row in enumerate(rows):
        row["candidates"] = []  # stays empty for an empty or unreadable input
        if row.get("unchanged") or row.get("target_style") is None:
            continue
        _, norm, back = rw.prepare(row["source"])
        pieces, symbols = rw.pieces(norm)
        if any(pieces):
            todo[rw.style_index(row["target_style"])].append((i, pieces, symbols, back))
    for to, items in todo.items():
        if not items:
            continue
        flat = [p for _, pieces, _, _ in items for p in pieces if p]  # a piece of symbols only: no model
        texts, scores = _chunked_candidates(rw, flat, to, n)
        best = [t[int(np.argmax(s))] for t, s in zip(texts, scores)]
        probs = _style_probability(rw, best, to)
        k = 0
        for i, pieces, symbols, back in items:
            m = sum(1 for p in pieces if p)
            p_texts, p_scores = texts[k : k + m], np.stack(scores[k : k + m])  # [m][n], [m, n]
            source = rows[i]["source"]

            def output(chosen: list[str], source=source, pieces=pieces, symbols=symbols, back=back) -> str:
                # one text per piece the model read -> the rewrite
                it = iter(chosen)
                return rw.finish(source, [next(it) if p else "" for p in pieces], pieces, symbols, back)

            rewrite = output(best[k : k + m])
            merged = {rewrite: float(p_scores.max(1).mean())}
            for j in range(p_scores.shape[1]):
                text = output([row[j] for row in p_texts])
                merged[text] = max(merged.get(text, -np.inf), float(p_scores[:, j].mean()))
            rows[i]["rewrite"] = rewrite
            rows[i]["style_probability"] = round(float(np.mean(probs[k : k + m])), 4)
            rows[i]["candidates"] = [
                {"text": t, "score": round(s, 4)} for t, s in sorted(merged.items(), key=lambda kv: -kv[1])
            ]
            k += m
