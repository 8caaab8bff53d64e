"""The saved model folder (textcycle.model): save_pretrained / from_pretrained, fp16, and
config.json problems as one-line errors."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from textcycle.errors import TextcycleError


def test_save_load_roundtrip_gives_same_outputs(trained, tmp_path):
    from textcycle.model import TextCycleModel
    from textcycle.networks import decode

    m = TextCycleModel.from_pretrained(trained / "final")
    m.save_pretrained(tmp_path / "copy")
    m2 = TextCycleModel.from_pretrained(tmp_path / "copy")
    assert m2.generators[0].get_input_embeddings().weight is m2.generators[1].get_input_embeddings().weight
    ids = torch.tensor([m.tokenizer.encode_fast(["the food was bad ."], 16)[0]])
    mask = torch.ones_like(ids)
    for t in (0, 1):
        assert torch.equal(decode(m.generators[t], ids, mask, 10), decode(m2.generators[t], ids, mask, 10))


def test_fp16_export_is_smaller_and_loads(trained, tmp_path):
    from textcycle.model import TextCycleModel

    m = TextCycleModel.from_pretrained(trained / "final")
    m.save_pretrained(tmp_path / "half", dtype=torch.float16)
    full = (trained / "final" / "generators.safetensors").stat().st_size
    half = (tmp_path / "half" / "generators.safetensors").stat().st_size
    assert half < 0.6 * full
    assert TextCycleModel.from_pretrained(tmp_path / "half").generators[1].lm_head.weight.dtype == torch.float32
