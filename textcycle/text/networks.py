"""The text networks: the two seq2seq generators and the style discriminator (nn.Modules only).

- Generators: plain `transformers` BART models built from a config, so `save_pretrained`,
  `from_pretrained` and `generate()` work as users expect, and a pretrained seq2seq checkpoint
  can be used instead (`GeneratorConfig.init_from`). Training and rewriting decode with `decode`,
  a short loop with a KV cache that does what `generate()` does for greedy and sampling with
  less per-token overhead (bench/bench_rewrite.py has the ratio).
- Discriminator: a small Transformer encoder over {style 0, style 1, generated}, trained in
  turns with the generators on real sentences of both styles and on the generators' samples.
  p(target style | sentence) is the style reward: low both for a sentence in the wrong style
  and for one that looks generated. It is the *training* reward model; the evaluation
  classifier in `textcycle.evaluate` is separate.

The saved model folder (both generators, the discriminator, the tokenizer) is `textcycle.model`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoModelForSeq2SeqLM, BartConfig, BartForConditionalGeneration
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from ..errors import TextcycleError
from .config import GeneratorConfig
from .tokenizer import BOS_ID, EOS_ID, PAD_ID

GENERATED = 2  # the discriminator's third class

# ---------------------------------------------------------------- generators


def build_generator(cfg: GeneratorConfig, vocab_size: int) -> BartForConditionalGeneration:
    """A randomly initialised BART-style generator (or a pretrained one from `cfg.init_from`)."""
    if cfg.init_from:
        try:
            model = AutoModelForSeq2SeqLM.from_pretrained(cfg.init_from)
        except Exception as e:
            raise TextcycleError(
                f"could not load generator.init_from={cfg.init_from!r}: {str(e).splitlines()[0]}"
            ) from None
        if model.config.vocab_size != vocab_size:
            model.resize_token_embeddings(vocab_size)
        return model
    config = BartConfig(
        vocab_size=vocab_size,
        d_model=cfg.d_model,
        encoder_layers=cfg.encoder_layers,
        decoder_layers=cfg.decoder_layers,
        encoder_attention_heads=cfg.attention_heads,
        decoder_attention_heads=cfg.attention_heads,
        encoder_ffn_dim=cfg.ffn_dim,
        decoder_ffn_dim=cfg.ffn_dim,
        dropout=cfg.dropout,
        attention_dropout=0.0,
        activation_dropout=0.0,
        max_position_embeddings=cfg.max_position_embeddings,
        pad_token_id=PAD_ID,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        decoder_start_token_id=BOS_ID,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        scale_embedding=False,
        tie_word_embeddings=True,
    )
    return BartForConditionalGeneration(config)


def share_embeddings(a: BartForConditionalGeneration, b: BartForConditionalGeneration) -> None:
    """Make `b` use `a`'s token embedding (input and output): one table for both generators."""
    w = a.get_input_embeddings().weight
    b.model.shared.weight = w
    b.model.encoder.embed_tokens.weight = w
    b.model.decoder.embed_tokens.weight = w
    b.lm_head.weight = w


def shift_right(tgt: torch.Tensor) -> torch.Tensor:
    """Decoder inputs: `<s>` followed by the target without its last token."""
    start = torch.full_like(tgt[:, :1], BOS_ID)
    return torch.cat([start, tgt[:, :-1]], dim=1)


def sequence_logprobs(model, src, src_mask, tgt, normalize: bool = False) -> torch.Tensor:
    """Sum (or mean, with `normalize`) of log p(tgt | src) per sentence; pad positions ignored.

    `tgt` holds token ids ending with `</s>` then padding (PAD_ID).
    """
    logits = model(input_ids=src, attention_mask=src_mask, decoder_input_ids=shift_right(tgt)).logits
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    mask = (tgt != PAD_ID).float()
    total = (logp * mask).sum(-1)
    return total / mask.sum(-1).clamp(min=1) if normalize else total


def token_loss(model, src, src_mask, tgt, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean token cross-entropy of `tgt` given `src` (the supervised DAE / back-translation loss)."""
    logits = model(input_ids=src, attention_mask=src_mask, decoder_input_ids=shift_right(tgt)).logits
    return F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)),
        tgt.reshape(-1),
        ignore_index=PAD_ID,
        label_smoothing=label_smoothing,
    )


@torch.no_grad()
def decode(
    model,
    src: torch.Tensor,
    src_mask: torch.Tensor,
    max_new_tokens: int = 32,
    sample: bool = False,
    temperature: float = 1.0,
    num_samples: int = 1,
    top_k: int = 0,
) -> torch.Tensor:
    """Greedy or sampled decoding with a KV cache. Returns [B * num_samples, T] ids, each row
    ending in `</s>` (or cut at `max_new_tokens`) and padded with PAD_ID.

    Rows for the same source are adjacent (source i -> rows i*K .. i*K+K-1).
    """
    was_training = model.training
    model.eval()
    if num_samples > 1:
        src = src.repeat_interleave(num_samples, 0)
        src_mask = src_mask.repeat_interleave(num_samples, 0)
    enc = model.get_encoder()(input_ids=src, attention_mask=src_mask).last_hidden_state
    dec = model.get_decoder()
    n = src.size(0)
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    token = torch.full((n, 1), BOS_ID, dtype=torch.long, device=src.device)
    done = torch.zeros(n, dtype=torch.bool, device=src.device)
    out = []
    # transformers renamed `past_key_values` to `cache`; pass the cache under the name this version takes
    cache_arg = "cache" if "cache" in inspect.signature(dec.forward).parameters else "past_key_values"
    for _ in range(max_new_tokens):
        h = dec(
            input_ids=token,
            encoder_hidden_states=enc,
            encoder_attention_mask=src_mask,
            use_cache=True,
            **{cache_arg: cache},
        ).last_hidden_state
        logits = model.lm_head(h[:, -1]).float()
        logits[:, PAD_ID] = -float("inf")
        logits[:, BOS_ID] = -float("inf")
        if sample:
            logits = logits / max(temperature, 1e-5)
            if top_k > 0:
                kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, -float("inf"))
            nxt = torch.multinomial(torch.softmax(logits, -1), 1).squeeze(1)
        else:
            nxt = logits.argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, PAD_ID), nxt)
        out.append(nxt)
        done = done | (nxt == EOS_ID)
        if bool(done.all()):
            break
        token = nxt.unsqueeze(1)
    ids = torch.stack(out, 1)
    # rows cut at max_new_tokens get a final </s> so every row is a complete sentence
    unfinished = ~done
    if bool(unfinished.any()):
        ids = torch.cat([ids, torch.full((n, 1), PAD_ID, dtype=torch.long, device=ids.device)], 1)
        ids[unfinished, -1] = EOS_ID
    if was_training:
        model.train()
    return ids


# ---------------------------------------------------------------- discriminator


@dataclass
class StyleDiscriminatorConfig:
    vocab_size: int = 8000
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    ffn_dim: int = 256
    dropout: float = 0.1
    max_length: int = 64
    num_classes: int = 3


class StyleDiscriminator(nn.Module):
    def __init__(self, config: StyleDiscriminatorConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model, padding_idx=PAD_ID)
        self.pos = nn.Embedding(config.max_length, config.d_model)
        layer = nn.TransformerEncoderLayer(
            config.d_model, config.heads, config.ffn_dim, config.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits [B, num_classes] for token ids [B, T] (PAD_ID = padding)."""
        ids = ids[:, : self.config.max_length]
        pad = ids == PAD_ID
        pos = torch.arange(ids.size(1), device=ids.device)
        h = self.embed(ids) * math.sqrt(self.config.d_model) + self.pos(pos)
        h = self.encoder(h, src_key_padding_mask=pad)
        h = self.norm(h)
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        pooled = (h * keep).sum(1) / keep.sum(1).clamp(min=1)  # mean over real tokens
        return self.head(pooled)


# ---------------------------------------------------------------- batches of token ids


def pad_batch(seqs: list[list[int]], device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists -> (ids [B, T] padded with PAD_ID, attention mask [B, T])."""
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids.to(device), (ids != PAD_ID).long().to(device)


def trim(ids: torch.Tensor) -> list[list[int]]:
    """Rows of a padded id tensor as lists without padding."""
    return [[int(t) for t in row if t != PAD_ID] for row in ids.cpu()]
