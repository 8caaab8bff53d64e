"""The style discriminator: a small Transformer encoder over {style 0, style 1, generated}.

Trained in turns with the generators, on real sentences of both styles (labels 0 and 1) and on
the generators' current samples (label 2). p(target style | sentence) is the style reward: it is
low both for a sentence in the wrong style and for one that looks generated. This is the
*training* reward model; the evaluation classifier in `textcycle.evaluate` is separate.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from ..errors import TextcycleError
from ..tokenizer import PAD_ID

GENERATED = 2


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
        layer = nn.TransformerEncoderLayer(config.d_model, config.heads, config.ffn_dim, config.dropout,
                                           batch_first=True, norm_first=True)
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

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(asdict(self.config), indent=1))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(path / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "StyleDiscriminator":
        path = Path(path)
        try:
            config = StyleDiscriminatorConfig(**json.loads((path / "config.json").read_text()))
            model = cls(config)
            sd = {k: v.float() for k, v in load_file(str(path / "model.safetensors")).items()}
            model.load_state_dict(sd)
        except Exception as e:
            raise TextcycleError(f"could not load the discriminator from {path}: {str(e).splitlines()[0]}") from None
        return model.eval()
