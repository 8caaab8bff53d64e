"""The networks (textcycle.text.networks): the KV-cache decode loop against transformers' generate()."""

import torch


def test_own_decode_matches_generate_greedy(trained):
    """textcycle's KV-cache loop must give exactly what transformers' generate() gives."""
    from textcycle.text.model import TextCycleModel
    from textcycle.text.networks import decode
    from textcycle.text.tokenizer import PAD_ID

    m = TextCycleModel.from_pretrained(trained / "final")
    rows = m.tokenizer.encode_fast(["the food was bad .", "this staff is so great !", "the room was cold ."], 16)
    n = max(map(len, rows))
    ids = torch.tensor([r + [PAD_ID] * (n - len(r)) for r in rows])
    mask = (ids != PAD_ID).long()
    for g in m.generators:
        ours = decode(g, ids, mask, 12)
        ref = g.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, num_beams=1, do_sample=False)[:, 1:]
        for a, b in zip(ours.tolist(), ref.tolist()):
            a = [t for t in a if t != PAD_ID]
            b = [t for t in b if t != PAD_ID]
            assert a[: len(b)] == b[: len(a)]
