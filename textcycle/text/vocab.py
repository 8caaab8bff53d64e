"""SentencePiece ids as every part of textcycle uses them, without transformers or torch (the
fast rewrite path imports this, and so does the Hugging Face tokenizer class in tokenizer.py).

Ids: 0 = <pad>, 1 = <unk>, 2 = <s>, 3 = </s>. A sentence is its pieces cut to max_length - 1,
then `</s>`; decoding stops at `</s>` and drops the special ids.
"""

from __future__ import annotations

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3


def encode_ids(sp, texts: list[str], max_length: int) -> list[list[int]]:
    """Ids of each text with `</s>` appended, cut to `max_length` (the last id stays `</s>`)."""
    return [ids[: max_length - 1] + [EOS_ID] for ids in sp.encode(list(texts))]


def decode_ids(sp, rows) -> list[str]:
    """Text of id lists, stopping at `</s>`, dropping pad/unk/bos and ids outside the vocabulary."""
    size = sp.get_piece_size()
    clean = []
    for row in rows:
        row = [int(i) for i in row]
        if EOS_ID in row:
            row = row[: row.index(EOS_ID)]
        clean.append([i for i in row if EOS_ID < i < size])
    return sp.decode(clean)
