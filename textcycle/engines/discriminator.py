"""The small models' discriminator in numpy, for the engines that run without torch.

`NumpyDiscriminator` computes what `textcycle.text.networks.StyleDiscriminator` computes, from
the same `discriminator.safetensors`; `tests/engines/test_parity.py` holds it to the torch
module's logits. Inputs are padded SentencePiece id batches (`pad_ids`).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import TextcycleError
from ..model_folder import DISCRIMINATOR, ModelFolder
from ..text.vocab import PAD_ID
from .ct2_format import one_line


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class NumpyDiscriminator:
    """`textcycle`'s StyleDiscriminator in numpy, read from `discriminator.safetensors`: token
    embedding * sqrt(d_model) + learned positions, pre-norm Transformer encoder layers (self-
    attention with a key padding mask, ReLU feed-forward), a final LayerNorm, the mean over real
    (non-pad) tokens, a linear head. Inputs are cut to `max_length` as the torch module does."""

    def __init__(self, weights: dict, config: dict):
        try:
            self.d = int(config["d_model"])
            self.heads = int(config["heads"])
            self.layers = int(config["layers"])
            self.max_length = int(config["max_length"])
        except (KeyError, TypeError, ValueError) as e:
            raise TextcycleError(f"discriminator config is incomplete ({one_line(e)})") from None
        w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}

        def get(k, shape=None):
            if k not in w:
                raise TextcycleError(f"discriminator weights do not match the config: {k} is missing")
            if shape is not None and w[k].shape != shape:
                raise TextcycleError(
                    f"discriminator weights do not match the config: {k} has shape {w[k].shape}, expected {shape}"
                )
            return w[k]

        d, ffn = self.d, int(config.get("ffn_dim", 0)) or None
        if d % self.heads:
            raise TextcycleError(f"discriminator config: d_model {d} is not divisible by heads {self.heads}")
        self.embed = get("embed.weight")
        if self.embed.ndim != 2 or self.embed.shape[1] != d:
            raise TextcycleError(f"discriminator weights do not match the config: embed.weight {self.embed.shape}")
        self.pos = get("pos.weight", (self.max_length, d))
        self.blocks = []
        for i in range(self.layers):
            p = f"encoder.layers.{i}."
            lin1 = get(p + "linear1.weight")
            self.blocks.append(
                dict(
                    in_w=get(p + "self_attn.in_proj_weight", (3 * d, d)).T.copy(),
                    in_b=get(p + "self_attn.in_proj_bias", (3 * d,)),
                    out_w=get(p + "self_attn.out_proj.weight", (d, d)).T.copy(),
                    out_b=get(p + "self_attn.out_proj.bias", (d,)),
                    n1w=get(p + "norm1.weight", (d,)),
                    n1b=get(p + "norm1.bias", (d,)),
                    n2w=get(p + "norm2.weight", (d,)),
                    n2b=get(p + "norm2.bias", (d,)),
                    l1w=get(p + "linear1.weight", (ffn or lin1.shape[0], d)).T.copy(),
                    l1b=get(p + "linear1.bias", (ffn or lin1.shape[0],)),
                    l2w=get(p + "linear2.weight", (d, ffn or lin1.shape[0])).T.copy(),
                    l2b=get(p + "linear2.bias", (d,)),
                )
            )
        self.norm_w, self.norm_b = get("norm.weight", (d,)), get("norm.bias", (d,))
        self.head_w = get("head.weight").T.copy()
        self.head_b = get("head.bias")
        if self.head_w.shape[0] != d or self.head_b.shape != (self.head_w.shape[1],):
            raise TextcycleError("discriminator weights do not match the config: head")
        self.num_classes = self.head_w.shape[1]

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """Logits [B, num_classes] for padded ids [B, T] (PAD_ID = padding)."""
        ids = np.asarray(ids, dtype=np.int64)[:, : self.max_length]
        B, T = ids.shape
        if ids.size and (ids.min() < 0 or ids.max() >= self.embed.shape[0]):
            raise TextcycleError(f"token id out of range for the discriminator (vocabulary {self.embed.shape[0]})")
        pad = ids == PAD_ID
        H, dh, d = self.heads, self.d // self.heads, self.d
        # linear layers as one 2-D product over all B*T positions (a 3-D @ 2-D product is a
        # loop of small ones in numpy, several times slower)
        h = (self.embed[ids] * np.float32(math.sqrt(d)) + self.pos[:T]).reshape(B * T, d)
        key_bias = np.where(pad, np.float32(-1e30), np.float32(0.0))[:, None, None, :]  # [B, 1, 1, T]
        scale = np.float32(1.0 / math.sqrt(dh))
        for blk in self.blocks:
            x = _layer_norm(h, blk["n1w"], blk["n1b"])
            qkv = (x @ blk["in_w"] + blk["in_b"]).reshape(B, T, 3, H, dh).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0] * scale, qkv[1], qkv[2]  # [B, H, T, dh]
            s = q @ k.transpose(0, 1, 3, 2) + key_bias  # [B, H, T, T]
            s = np.exp(s - s.max(-1, keepdims=True))
            a = (s / s.sum(-1, keepdims=True)) @ v  # [B, H, T, dh]
            h = h + a.transpose(0, 2, 1, 3).reshape(B * T, d) @ blk["out_w"] + blk["out_b"]
            x = _layer_norm(h, blk["n2w"], blk["n2b"])
            h = h + np.maximum(x @ blk["l1w"] + blk["l1b"], 0) @ blk["l2w"] + blk["l2b"]
        h = _layer_norm(h, self.norm_w, self.norm_b).reshape(B, T, d)
        keep = (~pad)[..., None].astype(np.float32)
        pooled = (h * keep).sum(1) / np.maximum(keep.sum(1), 1)
        return pooled @ self.head_w + self.head_b


def load_discriminator(folder: ModelFolder) -> NumpyDiscriminator:
    """The folder's discriminator as a `NumpyDiscriminator` (no torch)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    f = folder.file(DISCRIMINATOR)
    try:
        weights = load_file(str(f))
    except (SafetensorError, OSError, ValueError) as e:
        raise TextcycleError(f"{f}: corrupt weights ({one_line(e)})") from None
    return NumpyDiscriminator(weights, folder.config["discriminator"])


def pad_ids(seqs: list[list[int]]) -> np.ndarray:
    """Id lists -> int64 [n, T] padded with PAD_ID."""
    n = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), max(n, 1)), PAD_ID, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


def logits_by_length(discriminator: NumpyDiscriminator, ids: list[list[int]], batch_size: int = 64) -> np.ndarray:
    """The discriminator's logits of id lists, float32 [n, 3], in their order. Run sorted by
    length in chunks of 64, so each chunk pads little (160 server texts: 18 ms against 27 ms in
    one chunk of 256)."""
    out = np.zeros((len(ids), discriminator.num_classes), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for b in range(0, len(order), batch_size):
        chunk = order[b : b + batch_size]
        out[chunk] = discriminator(pad_ids([ids[i] for i in chunk]))
    return out
