"""Generators on one pretrained causal LM, conditioned on the target style as a label.

G_t(x) is the LM's continuation of `{start}x{end}\\n{start}t\\n` up to `{end}` (the base's chat
markers, `lm_format.PromptFormat`), where t is the target style's name: G_xy and G_yx of the method are the same network asked for
different labels, so a model with N styles needs no redesign. The LM's weights stay frozen behind
a LoRA adapter (peft), so a saved model holds only the adapter and its config; `lora_rank: 0`
trains every weight instead (for pilots: that folder holds the whole LM).

Text goes in and out as the user writes it (cased, digits, emoji): the LM's byte-level BPE reads
everything, and digits are single tokens, which makes copying numbers easy to learn.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

from ..errors import TextcycleError
from ..files import atomic_dir
from .lm_base import base_folder
from .lm_format import ADAPTER, CONFIG, FULL, MODEL_TYPE, PROMPT_FORMATS, LMSpec, prompt_format, read_lm_spec


def check_markers(tokenizer, fmt, spec: LMSpec) -> None:
    """The prompt format's markers must be single tokens of the base's vocabulary: a base whose
    tokenizer lacks them (a Gemma folder read as ChatML) would split them into pieces silently."""
    for m in fmt.markers():
        ids = tokenizer.encode(m, add_special_tokens=False)
        if len(ids) != 1 or ids[0] == tokenizer.unk_token_id:
            raise TextcycleError(
                f"base {spec.base!r}: its tokenizer has no single token {m!r} of prompt format "
                f"{spec.prompt_format!r}; set model.prompt_format to the base's ({', '.join(PROMPT_FORMATS)})"
            )


class LMGenerators(torch.nn.Module):
    """The style-conditioned generators: the LM (with its adapter), its tokenizer and the spec."""

    def __init__(self, lm, tokenizer, spec: LMSpec):
        super().__init__()
        self.lm, self.tokenizer, self.spec = lm, tokenizer, spec
        self.format = prompt_format(spec.prompt_format)
        check_markers(tokenizer, self.format, spec)
        self.end_id = tokenizer.convert_tokens_to_ids(self.format.end)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.end_id

    # ------------------------------------------------------------------ building and saving
    @classmethod
    def build(cls, spec: LMSpec, base: Optional[str] = None) -> "LMGenerators":
        """Fresh generators: the base LM (`spec.base`, or the folder `base`) with a new adapter."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = base or base_folder(spec.base)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        lm = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        if spec.lora_rank > 0:
            from peft import LoraConfig, get_peft_model

            lm = get_peft_model(
                lm,
                LoraConfig(
                    r=spec.lora_rank,
                    lora_alpha=spec.lora_alpha,
                    lora_dropout=spec.lora_dropout,
                    target_modules="all-linear",
                    task_type="CAUSAL_LM",
                ),
            )
        return cls(lm, tokenizer, spec)

    def save_pretrained(self, folder: str | Path, config: dict | None = None, extra=None) -> None:
        """config.json (the spec, plus `config`) + the adapter (or, with lora_rank 0, the whole
        LM), and whatever `extra(tmp)` writes beside them (the discriminator), in one rename."""
        with atomic_dir(folder) as tmp:
            (tmp / CONFIG).write_text(
                json.dumps(
                    {"model_type": MODEL_TYPE, **asdict(self.spec), **(config or {})}, ensure_ascii=False, indent=1
                )
                + "\n",
                encoding="utf-8",
            )
            if extra is not None:
                extra(tmp)
            self.lm.save_pretrained(tmp / (ADAPTER if self.spec.lora_rank > 0 else FULL))
            (tmp / ADAPTER / "README.md").unlink(missing_ok=True)  # peft's empty card template
            if self.spec.lora_rank == 0:
                self.tokenizer.save_pretrained(tmp / FULL)

    @classmethod
    def from_pretrained(cls, folder: str | Path, base: Optional[str] = None) -> "LMGenerators":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(folder)
        spec = read_lm_spec(folder)
        if spec.lora_rank == 0:
            lm_folder = folder / FULL
            return cls(
                AutoModelForCausalLM.from_pretrained(lm_folder, dtype=torch.float32),
                AutoTokenizer.from_pretrained(lm_folder),
                spec,
            )
        from peft import PeftModel

        base_path = base or base_folder(spec.base)
        lm = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
        lm = PeftModel.from_pretrained(lm, folder / ADAPTER, is_trainable=True)
        return cls(lm, AutoTokenizer.from_pretrained(base_path), spec)

    def merged_lm(self):
        """A plain LM with the adapter folded into its weights (for the CTranslate2 copy)."""
        if self.spec.lora_rank == 0:
            return self.lm
        import copy

        return copy.deepcopy(self.lm).merge_and_unload()

    # ------------------------------------------------------------------ batches
    def style_name(self, style: int | str) -> str:
        return self.spec.style_names[style] if isinstance(style, int) else style

    def prompt_ids(self, source: str, style: int | str) -> list[int]:
        """The prompt's ids; a long source keeps its first `max_source_tokens` tokens."""
        src = self.tokenizer.encode(source, add_special_tokens=False)[: self.spec.max_source_tokens]
        fmt = self.format
        head = self.tokenizer.encode(fmt.bos + fmt.start, add_special_tokens=False)
        tail = self.tokenizer.encode(f"{fmt.end}\n{fmt.start}{self.style_name(style)}\n", add_special_tokens=False)
        return head + src + tail

    def target_ids(self, target: str) -> list[int]:
        ids = self.tokenizer.encode(target, add_special_tokens=False)[: self.spec.max_new_tokens - 1]
        return ids + [self.end_id]

    def pair_batch(self, sources: list[str], styles: list, targets: list[str]) -> dict:
        """Right-padded prompt + target ids; labels are -100 except on the target and its end."""
        rows, labels = [], []
        for s, t, y in zip(sources, styles, targets):
            p, y_ids = self.prompt_ids(s, t), self.target_ids(y)
            rows.append(p + y_ids)
            labels.append([-100] * len(p) + y_ids)
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        lab = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (r, y) in enumerate(zip(rows, labels)):
            ids[i, : len(r)] = torch.tensor(r)
            lab[i, : len(y)] = torch.tensor(y)
            mask[i, : len(r)] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": lab}

    def _target_logits(self, sources: list[str], styles: list, targets: list[str]):
        """(logits [N, vocab], labels [N], row of each [N]) at the N positions that predict a
        target token or its end. The LM head runs on those positions only: over half of a
        pair is prompt, and a 49k-word head on every position was most of a batch's memory."""
        b = self.pair_batch(sources, styles, targets)
        causal = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
        hidden = causal.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
        labels = b["labels"][:, 1:]
        keep = labels != -100
        logits = causal.lm_head(hidden[:, :-1][keep]).float()
        rows = torch.arange(labels.size(0)).unsqueeze(1).expand_as(labels)[keep]
        return logits, labels[keep], rows

    def target_logprobs(
        self, sources: list[str], styles: list, targets: list[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of log p of each target's tokens and end, number of those tokens), per row."""
        logits, labels, rows = self._target_logits(sources, styles, targets)
        lp = torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        total = torch.zeros(len(sources), dtype=lp.dtype).index_add(0, rows, lp)
        return total, torch.bincount(rows, minlength=len(sources))

    def token_loss(self, sources: list[str], styles: list, targets: list[str]) -> torch.Tensor:
        """Mean cross-entropy over the target tokens of the batch (teacher forcing)."""
        logits, labels, _ = self._target_logits(sources, styles, targets)
        return F.cross_entropy(logits, labels)

    # ------------------------------------------------------------------ generation (the reference)
    @torch.no_grad()
    def generate(
        self,
        sources: list[str],
        styles: list,
        sample: bool = False,
        num: int = 1,
        temperature: float = 1.0,
        max_new_tokens: Optional[int] = None,
        guidance: float = 1.0,
        away_from: Optional[list] = None,
    ) -> list[list[str]]:
        """`num` rewrites per source (greedy: num 1), left-padded batch through `generate`.

        `guidance` g != 1 is style guidance (classifier-free guidance, Sanchez et al. 2023): each
        step scores log p(. | prompt to t) + (g - 1) (log p(. | prompt to t) - log p(. | prompt to
        a)), a = `away_from` (the source's style), so tokens that only the target style's prompt
        wants are pushed up. The same network runs both prompts (transformers' own CFG processor)."""
        ids, mask = self.left_padded([self.prompt_ids(s, t) for s, t in zip(sources, styles)])
        width = ids.size(1)
        extra = {}
        if guidance != 1.0:
            if away_from is None or len(away_from) != len(sources):
                raise ValueError("style guidance needs the style to steer away from, one per source")
            neg, neg_mask = self.left_padded([self.prompt_ids(s, a) for s, a in zip(sources, away_from)])
            extra = {
                "guidance_scale": guidance,
                "negative_prompt_ids": neg.repeat_interleave(num, 0),
                "negative_prompt_attention_mask": neg_mask.repeat_interleave(num, 0),
            }
        out = self.lm.generate(
            input_ids=ids,
            attention_mask=mask,
            **extra,
            do_sample=sample,
            temperature=temperature if sample else None,
            top_k=0 if sample else None,
            top_p=None,
            num_return_sequences=num,
            max_new_tokens=max_new_tokens or self.spec.max_new_tokens,
            eos_token_id=self.end_id,
            pad_token_id=self.pad_id,
        )
        texts = [self.decode(row[width:].tolist()) for row in out]
        return [texts[i * num : (i + 1) * num] for i in range(len(sources))]

    def left_padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids, attention mask) of token rows padded on the left, as generation wants them."""
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, width - len(r) :] = torch.tensor(r)
            mask[i, width - len(r) :] = 1
        return ids, mask

    def decode(self, ids: list[int]) -> str:
        if self.end_id in ids:
            ids = ids[: ids.index(self.end_id)]
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()
