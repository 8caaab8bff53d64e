"""What the engine thread does with one batch: one `Rewriter.rewrite` call.

`rewrite_batch(rw, texts, to, beam, rerank)` returns per text the dict of `rewrite --json`
(source, detected_style, target_style, rewrite, style_probability; unchanged and reason for an
input the model cannot read). With rerank N > 1 each row also has `candidates`: the greedy
rewrite and N - 1 samples as whole texts with their training-reward scores, best first, the
rewrite among them (`Rewriter.whole_candidates`).

`text_cost(text, candidates, factor)` estimates, before a text is queued, the engine work it
makes, so that the server can bound the work it admits, not only the number of texts; `factor`
is the model's engine's `cost_factor` (its time per token against the small model's CTranslate2
engine: an LM sentence costs several small ones).
"""

from __future__ import annotations

CHUNK = 64  # pieces per engine call at least, as Rewriter.rewrite's batch_size


def text_cost(text: str, candidates: int = 1, factor: int = 1) -> int:
    """About the engine work of rewriting `text`, in token x candidate units of the small model's
    engine: its tokens (about one per 4 bytes of UTF-8: a word piece in English, a character or
    two in Chinese; summed over its pieces, pieces x length) times the sequences decoded per
    piece (rerank N or beam N: N) times the engine's `factor`. Cheap on purpose: it runs on the
    event loop for every text before it is queued."""
    return (1 + len(text.encode("utf-8", "surrogatepass")) // 4) * candidates * factor


def rewrite_batch(rw, texts: list[str], to: int | None, beam: int = 1, rerank: int = 1) -> list[dict]:
    # the whole batch in one engine call per direction (the batcher already capped its size)
    return rw.rewrite(
        texts, to=to, beam=beam, rerank=rerank, details=True, candidates=rerank > 1, batch_size=max(CHUNK, len(texts))
    )
