"""The saved model folder (textcycle.text.model): save_pretrained / from_pretrained, fp16, and
config.json problems as one-line errors."""

import json
import shutil

import pytest
import torch

from textcycle.errors import TextcycleError


def test_save_load_roundtrip_gives_same_outputs(trained, tmp_path):
    from textcycle.text.model import TextCycleModel
    from textcycle.text.networks import decode

    m = TextCycleModel.from_pretrained(trained / "final")
    m.save_pretrained(tmp_path / "copy")
    m2 = TextCycleModel.from_pretrained(tmp_path / "copy")
    assert m2.generators[0].get_input_embeddings().weight is m2.generators[1].get_input_embeddings().weight
    ids = torch.tensor([m.tokenizer.encode_fast(["the food was bad ."], 16)[0]])
    mask = torch.ones_like(ids)
    for t in (0, 1):
        assert torch.equal(decode(m.generators[t], ids, mask, 10), decode(m2.generators[t], ids, mask, 10))


def test_fp16_export_is_smaller_and_loads(trained, tmp_path):
    from textcycle.text.model import TextCycleModel

    m = TextCycleModel.from_pretrained(trained / "final")
    m.save_pretrained(tmp_path / "half", dtype=torch.float16)
    full = (trained / "final" / "generators.safetensors").stat().st_size
    half = (tmp_path / "half" / "generators.safetensors").stat().st_size
    assert half < 0.6 * full
    assert TextCycleModel.from_pretrained(tmp_path / "half").generators[1].lm_head.weight.dtype == torch.float32


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda c: c["generator"].update(vocab_size=999), "do not match"),
        (lambda c: c["generator"].update(d_model=64), "do not match"),
        (lambda c: c.update(generator=None), "'generator' must be an object"),
        (lambda c: c.update(max_length="abc"), "max_length"),
        (lambda c: c.update(style_names=["only-one"]), "style_names"),
        (lambda c: c["discriminator"].update(d_model=48), "do not match"),
        (lambda c: c.update(reward={"style_weight": -1}), "reward"),
    ],
)
def test_config_that_disagrees_with_the_weights_is_one_line(trained, tmp_path, edit, words):
    from textcycle.text.model import TextCycleModel

    bad = tmp_path / "m"
    shutil.copytree(trained / "final", bad)
    cfg = json.loads((bad / "config.json").read_text())
    edit(cfg)
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TextcycleError, match=words) as e:
        TextCycleModel.from_pretrained(bad)
    assert "\n" not in str(e.value)
