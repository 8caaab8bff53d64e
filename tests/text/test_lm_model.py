"""The LM generators: the prompt and its labels, log-probabilities checked by hand, learning a
pair, save/load of the adapter alone, the merged copy, and config checks."""

import json

import pytest
import torch

pytest.importorskip("peft")

from textcycle.errors import TextcycleError
from textcycle.text.lm_format import END, PROMPT_FORMATS, START, prompt_text
from textcycle.text.lm_model import LMGenerators, LMSpec, read_lm_spec


@pytest.fixture
def gens(tiny_base):
    torch.manual_seed(0)
    return LMGenerators.build(LMSpec(lora_rank=8, lora_alpha=16, lora_dropout=0.0), base=str(tiny_base))


def test_prompt_and_labels(gens):
    tok = gens.tokenizer
    assert prompt_text("the food was bad", "positive") == f"{START}the food was bad{END}\n{START}positive\n"
    b = gens.pair_batch(["the food was bad", "bad"], ["positive", 0], ["the food was good", "good"])
    for i, (src, style, tgt) in enumerate(
        [("the food was bad", "positive", "the food was good"), ("bad", "negative", "good")]
    ):
        prompt = tok.encode(prompt_text(src, style), add_special_tokens=False)
        target = tok.encode(tgt, add_special_tokens=False) + [gens.end_id]
        n = len(prompt) + len(target)
        assert b["input_ids"][i, :n].tolist() == prompt + target
        assert b["labels"][i, :n].tolist() == [-100] * len(prompt) + target
        assert b["attention_mask"][i].sum().item() == n
        assert (b["labels"][i, n:] == -100).all()


def test_gemma_prompt(tiny_gemma_base):
    """A Gemma base's generators: <bos>, then its turn markers; they stop at <end_of_turn>."""
    gemma = PROMPT_FORMATS["gemma"]
    text = prompt_text("the food was bad", "positive", gemma)
    assert text == "<bos><start_of_turn>the food was bad<end_of_turn>\n<start_of_turn>positive\n"
    g = LMGenerators.build(LMSpec(lora_rank=8, prompt_format="gemma"), base=str(tiny_gemma_base))
    tok = g.tokenizer
    ids = g.prompt_ids("the food was bad", "positive")
    assert ids == tok.encode(text, add_special_tokens=False)
    assert ids[:2] == tok.convert_tokens_to_ids(["<bos>", "<start_of_turn>"])
    assert g.end_id == tok.convert_tokens_to_ids("<end_of_turn>") != tok.convert_tokens_to_ids("<|im_end|>")
    assert g.target_ids("good")[-1] == g.end_id


def test_target_logprobs_by_hand(gens):
    gens.eval()
    lp, n = gens.target_logprobs(["the food was bad"], ["positive"], ["good"])
    prompt = gens.prompt_ids("the food was bad", "positive")
    target = gens.target_ids("good")
    total = 0.0
    for k, t in enumerate(target):  # one forward per token, no batching, no padding
        ids = torch.tensor([prompt + target[:k]])
        with torch.no_grad():
            logits = gens.lm(input_ids=ids).logits[0, -1]
        total += torch.log_softmax(logits, -1)[t].item()
    assert n.item() == len(target)
    assert lp.item() == pytest.approx(total, abs=1e-4)
    # the mean token loss is the same quantity, averaged and negated
    assert gens.token_loss(["the food was bad"], ["positive"], ["good"]).item() == pytest.approx(
        -total / len(target), abs=1e-4
    )


def test_learns_a_pair_and_generates_it(gens):
    opt = torch.optim.AdamW([p for p in gens.parameters() if p.requires_grad], lr=5e-3)
    frozen = {k: v.clone() for k, v in gens.lm.named_parameters() if not v.requires_grad}
    src, tgt = ["the food was bad", "the staff was rude"], ["the food was great", "the staff was friendly"]
    gens.train()
    for _ in range(150):
        loss = gens.token_loss(src, ["positive"] * 2, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    gens.eval()
    assert loss.item() < 0.2
    assert gens.generate(src, [1, 1]) == [[t] for t in tgt]
    # only the adapter moved: the base weights are exactly as loaded
    assert all(torch.equal(v, dict(gens.lm.named_parameters())[k]) for k, v in frozen.items())
    samples = gens.generate(src[:1], [1], sample=True, num=3)
    assert len(samples) == 1 and len(samples[0]) == 3


def guided_by_hand(gens, source: str, to: int, away: int, g: float, steps: int) -> list[int]:
    """Greedy with style guidance, one unbatched, unpadded forward per prompt and step."""
    pos, neg, out = gens.prompt_ids(source, to), gens.prompt_ids(source, away), []
    for _ in range(steps):
        with torch.no_grad():
            lp_t = torch.log_softmax(gens.lm(input_ids=torch.tensor([pos + out])).logits[0, -1], -1)
            lp_a = torch.log_softmax(gens.lm(input_ids=torch.tensor([neg + out])).logits[0, -1], -1)
        out.append(int((lp_t + (g - 1) * (lp_t - lp_a)).argmax()))
        if out[-1] == gens.end_id:
            break
    return out


def test_style_guidance_by_hand(gens, monkeypatch):
    """Guided greedy rewrites match a by-hand loop over log p(. | to t) + (g - 1) (log p(. | to t)
    - log p(. | to a)), for a batch of sources of different lengths (left padding) and for
    g = 1 (plain greedy) and g = 2.5; a strong g changes the rewrite of this random adapter."""
    torch.manual_seed(1)
    with torch.no_grad():  # a random adapter, so that the two prompts' distributions differ
        for name, w in gens.lm.named_parameters():
            if "lora_B" in name:
                w.normal_(0, 0.5)
    gens.eval()
    # compare token ids: the tiny test vocabulary decodes many ids to nothing
    monkeypatch.setattr(gens, "decode", lambda ids: tuple(ids[: ids.index(gens.end_id)] if gens.end_id in ids else ids))
    sources = ["the food was bad", "rude staff and a long wait for cold food"]
    steps = 6
    results = {}
    for g in (1.0, 2.5):
        got = gens.generate(sources, [1, 1], guidance=g, away_from=[0, 0], max_new_tokens=steps)
        for src, [text] in zip(sources, got):
            want = gens.decode(guided_by_hand(gens, src, 1, 0, g, steps))
            assert text == want
        results[g] = got
    assert results[1.0] == gens.generate(sources, [1, 1], max_new_tokens=steps)
    assert results[2.5] != results[1.0]
    with pytest.raises(ValueError):
        gens.generate(sources, [1, 1], guidance=2.0)


def test_save_and_load_keep_the_adapter_only(gens, tiny_base, tmp_path):
    with torch.no_grad():
        for name, p in gens.lm.named_parameters():
            if "lora_B" in name:
                p.add_(0.05)  # a trained-looking adapter (lora_B starts at zero)
    gens.eval()
    before, _ = gens.target_logprobs(["the food was bad"], [1], ["the food was good"])
    gens.save_pretrained(tmp_path / "m")
    files = {p.name for p in (tmp_path / "m").rglob("*") if p.is_file()}
    assert files == {"config.json", "adapter_model.safetensors", "adapter_config.json"}
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model_type"] == "textcycle-lm"
    again = LMGenerators.from_pretrained(tmp_path / "m", base=str(tiny_base))
    again.eval()
    after, _ = again.target_logprobs(["the food was bad"], [1], ["the food was good"])
    assert after.item() == pytest.approx(before.item(), abs=1e-5)
    # the merged plain LM computes what the adapter model computes
    merged = gens.merged_lm()
    ids = gens.pair_batch(["the food was bad"], [1], ["good"])["input_ids"]
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, gens.lm(input_ids=ids).logits, atol=1e-4)
    assert not hasattr(merged, "peft_config")


def test_full_finetuning_saves_the_whole_lm(tiny_base, tmp_path):
    gens = LMGenerators.build(LMSpec(lora_rank=0), base=str(tiny_base))
    assert all(p.requires_grad for p in gens.parameters())
    gens.save_pretrained(tmp_path / "full")
    again = LMGenerators.from_pretrained(tmp_path / "full")
    assert again.spec.lora_rank == 0 and again.generate(["bad"], [1], max_new_tokens=3)


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"model_type": "bart"}, "not a textcycle LM model"),
        ({"style_names": ["a", "a"]}, "style_names"),
        ({"style_names": "ab"}, "style_names"),
        ({"lora_rank": -1}, "lora_rank"),
        ({"max_new_tokens": 1e12}, "max_new_tokens"),
        ({"prompt_format": "alpaca"}, "prompt_format must be one of chatml, gemma"),
    ],
)
def test_bad_configs_are_one_line_errors(tmp_path, patch, message):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "textcycle-lm", **patch}))
    with pytest.raises(TextcycleError, match=message):
        read_lm_spec(tmp_path)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(TextcycleError, match="cannot read"):
        read_lm_spec(tmp_path)


def test_a_base_without_the_formats_markers_is_one_line(tiny_base):
    """The tiny base has ChatML's markers only: read as Gemma it would split <start_of_turn>."""
    with pytest.raises(TextcycleError, match="no single token '<bos>' of prompt format 'gemma'"):
        LMGenerators.build(LMSpec(lora_rank=8, prompt_format="gemma"), base=str(tiny_base))


def test_a_chinese_lm_folder_takes_its_script_from_the_discriminator_s_vocabulary(tmp_path):
    """An LM model of PTT converts Simplified input into Traditional and back, as the small PTT
    model does: the script comes from its SentencePiece vocabulary (here the bundled ptt model's)."""
    import shutil

    from textcycle.model_folder import PACKAGE_MODELS, ModelFolder

    ptt = json.loads((PACKAGE_MODELS / "ptt" / "config.json").read_text())
    config = {"model_type": "textcycle-lm", "base": "gemma3-270m", "style_names": ["噓", "推"]}
    config.update(prompt_format="gemma", language="zh", max_length=48, discriminator=ptt["discriminator"])
    (tmp_path / "config.json").write_text(json.dumps(config, ensure_ascii=False))
    assert ModelFolder.open(tmp_path).script is None  # no vocabulary: nothing to tell
    shutil.copyfile(PACKAGE_MODELS / "ptt" / "tokenizer.model", tmp_path / "tokenizer.model")
    folder = ModelFolder.open(tmp_path)
    assert folder.kind == "lm" and folder.script == "traditional"
    (tmp_path / "config.json").write_text(json.dumps({**config, "language": "en"}))
    assert ModelFolder.open(tmp_path).script is None  # English has no script to convert
