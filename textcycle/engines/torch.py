"""The torch engine: a loaded `TextCycleModel` behind the engine interface (`engines.base`).

The reference (`--engine torch`): the CTranslate2 engine is held to its greedy outputs and its
scores (tests/engines/test_parity.py), and the fallback for folders without a CTranslate2 copy.
It speaks texts in corpus form (`engines.pieces`); its id methods take SentencePiece id lists
ending in `</s>`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..model_folder import ModelFolder
from ..text.model import TextCycleModel
from ..text.networks import decode, pad_batch, sequence_logprobs, trim
from .pieces import SentencePieceTexts

ENGINE_NAME = "torch"


class TorchEngine(SentencePieceTexts):
    name = ENGINE_NAME
    cost_factor = 4  # results/bench.md: the torch decode loop 174.3 sentences/s, CTranslate2 655.0

    def __init__(self, model: TextCycleModel, device: str | torch.device = "cpu", threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.sp = model.tokenizer.sp_model
        self.language, self.max_length = model.language, model.max_length
        self.max_new_tokens = model.max_length + 8

    @classmethod
    def from_folder(cls, folder: ModelFolder, threads: int | None = None, device: str = "cpu") -> "TorchEngine":
        return cls(TextCycleModel.from_pretrained(folder), device, threads=threads)

    def set_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    @torch.no_grad()
    def style_logits_ids(self, ids: list[list[int]]) -> np.ndarray:
        x, _ = pad_batch(ids, self.device)
        return self.model.discriminator(x).float().cpu().numpy()

    @torch.no_grad()
    def generate_ids(
        self,
        ids: list[list[int]],
        to: int,
        beam: int = 1,
        sample: bool = False,
        temperature: float = 1.0,
        num_hypotheses: int = 1,
    ) -> list[list[list[int]]]:
        """Per source, `num_hypotheses` rewrites (samples when `sample`, else the beam's best)."""
        g = self.model.generators[to]
        x, m = pad_batch(ids, self.device)
        if beam > 1:
            out = g.generate(
                input_ids=x,
                attention_mask=m,
                num_beams=beam,
                num_return_sequences=num_hypotheses,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                early_stopping=True,
            )
            out = out[:, 1:]  # generate() starts with the decoder start token
        else:
            out = decode(
                g, x, m, self.max_new_tokens, sample=sample, temperature=temperature, num_samples=num_hypotheses
            )
        rows = trim(out)
        k = num_hypotheses
        return [rows[i * k : (i + 1) * k] for i in range(len(ids))]

    @torch.no_grad()
    def logprobs_ids(self, src: list[list[int]], tgt: list[list[int]], generator: int) -> np.ndarray:
        """Mean log p(tgt_i | src_i) per token under generators[generator]."""
        x, m = pad_batch(src, self.device)
        y, _ = pad_batch(tgt, self.device)
        return sequence_logprobs(self.model.generators[generator], x, m, y, normalize=True).float().cpu().numpy()
