"""Fixtures of the LM generator tests: a tiny random Llama with a byte-level BPE tokenizer that
has the chat markers of the real base, saved as a plain folder (no wheel, no download)."""

from pathlib import Path

import pytest
import torch
from conftest import NEG_WORDS, NOUNS, POS_WORDS

torch.set_num_threads(1)


def make_tiny_base(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    words = NEG_WORDS + POS_WORDS + NOUNS + ["the", "was", "We", "waited", "minutes", "at", "Joe's", "Diner"]
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([" ".join(words)] * 5 + ["0123456789 .,!?:$-"], trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|im_end|>",
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        tie_word_embeddings=True,
    )  # no padding_idx: it would zero <|im_end|>, the end
    lm = LlamaForCausalLM(config)
    with torch.no_grad():  # a pretrained LM's embeddings are far wider than a fresh one's 0.02,
        lm.model.embed_tokens.weight.mul_(15)  # which caps the tied output's logits near 0.6
    lm.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    return make_tiny_base(tmp_path_factory.mktemp("tiny-llama"))
