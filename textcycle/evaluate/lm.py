"""Fluency: perplexity under "our LM", a small GPT-2-style language model of the Yelp training split.

The model is built from a `transformers` GPT2Config (no pretrained weights) on a SentencePiece
BPE vocabulary trained on the same training sentences. A sentence is brought into the corpus
form (`textnorm.normalize` of its language; Yelp: `yelp_tokenize`, numbers as `_num_`), encoded as `<s> pieces </s>`, and scored on
predicting every piece and the final `</s>`. Perplexity = exp(total negative log-likelihood /
number of predicted tokens), pooled over the sentences given. It is a per-SentencePiece-token
perplexity of this particular model: comparable between systems scored with the same model,
not with GPT-2 perplexities in papers.

Files in an LM folder: `model.safetensors` (fp16; the output layer is tied to the input
embeddings and not stored twice), `config.json` (the GPT2Config), `tokenizer.model` (+ the
tokenizer's own json files) and `metrics.json` (training details, dev perplexity).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import TextcycleError
from ..text.textnorm import normalize
from ..text.tokenizer import BOS_ID, EOS_ID, PAD_ID, TextcycleTokenizer, train_tokenizer


@dataclass
class LMConfig:
    vocab_size: int = 4000
    n_embd: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_inner: int = 768
    n_positions: int = 64
    max_length: int = 48  # tokens per sentence including <s> and </s>; longer ones are cut
    dropout: float = 0.1
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 200
    steps: int = 6000
    # time budget: the schedule follows max(step / steps, elapsed / max_minutes), so a slow or
    # busy CPU ends the cosine decay on time instead of being cut off half way
    max_minutes: float = 9.0
    eval_every: int = 500
    bf16: str = "auto"  # "auto": bf16 autocast only where the CPU has fast bf16 (AVX512/AMX)
    seed: int = 0
    language: str = "en"  # how raw text is brought into corpus form before scoring ("en", "zh")
    character_coverage: float = 1.0  # SentencePiece; Chinese needs < 1 (thousands of rare characters)


def fast_bf16() -> bool:
    """bf16 matmuls are fast with AVX512-BF16/AMX; on AVX2-only CPUs they are ~50x slower."""
    cap = str(torch.backends.cpu.get_cpu_capability()).upper()
    return "AVX512" in cap or "AMX" in cap


def build_model(cfg: LMConfig, vocab_size: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    gcfg = GPT2Config(
        vocab_size=vocab_size,
        n_positions=cfg.n_positions,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_inner=cfg.n_inner,
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=PAD_ID,
        tie_word_embeddings=True,
    )
    gcfg.textcycle_language = cfg.language  # saved in config.json: how to normalise raw text
    return GPT2LMHeadModel(gcfg)


class LanguageModel:
    """A trained LM with its tokenizer; `perplexity(texts)` and `nll(texts)`."""

    def __init__(self, model, tokenizer: TextcycleTokenizer, max_length: int = 48):
        self.model = model.eval()
        self.tok = tokenizer
        self.max_length = min(max_length, model.config.n_positions)
        self.language = getattr(model.config, "textcycle_language", "en")

    def encode(self, texts: list[str], normalized: bool = False) -> list[list[int]]:
        if not normalized:
            texts = [normalize(t, self.language) for t in texts]
        return [[BOS_ID] + ids for ids in self.tok.encode_fast(texts, self.max_length - 1)]

    @torch.no_grad()
    def nll(self, texts: list[str], normalized: bool = False, batch_size: int = 128) -> list[tuple[float, int]]:
        """(summed negative log-likelihood in nats, number of predicted tokens) per text."""
        seqs = self.encode(texts, normalized)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out: list = [None] * len(seqs)
        self.model.eval()
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            ids, mask = _pad([seqs[i] for i in idx])
            logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits[:, :-1], -1)
            tgt = ids[:, 1:]
            tok_nll = -logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1) * mask[:, 1:]
            for j, i in enumerate(idx):
                out[i] = (tok_nll[j].sum().item(), int(mask[j, 1:].sum().item()))
        return out

    def perplexity(self, texts: list[str], normalized: bool = False) -> float:
        pairs = self.nll(texts, normalized)
        n = sum(c for _, c in pairs)
        return math.exp(sum(s for s, _ in pairs) / n) if n else float("nan")

    # ---- files ------------------------------------------------------------------------------
    def save(self, out_dir: str | Path, metrics: dict | None = None) -> None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        sd = {
            k: v.detach().to(torch.float16).contiguous()
            for k, v in self.model.state_dict().items()
            if k != "lm_head.weight"
        }  # tied to transformer.wte.weight
        save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
        os.chmod(out / "model.safetensors", 0o644)
        self.model.config.to_json_file(str(out / "config.json"))
        if metrics is not None:
            (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "LanguageModel":
        from transformers import GPT2Config, GPT2LMHeadModel

        p = Path(path)
        for f in ("config.json", "model.safetensors", "tokenizer.model"):
            if not (p / f).is_file():
                raise TextcycleError(
                    f"no evaluation language model at {p} ({f} missing); train one with "
                    "`python -m textcycle.evaluate.train_lm`"
                )
        try:
            gcfg = GPT2Config.from_json_file(str(p / "config.json"))
            sd = load_file(str(p / "model.safetensors"))
        except (OSError, ValueError, SafetensorError) as e:
            raise TextcycleError(f"{p}: corrupt evaluation language model ({e})") from None
        model = GPT2LMHeadModel(gcfg)
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
        if unexpected or [m for m in missing if m != "lm_head.weight"]:
            raise TextcycleError(f"{p}: weights do not match config.json")
        model.tie_weights()
        tok = TextcycleTokenizer.from_dir(p)
        return cls(model, tok, max_length=gcfg.n_positions)


def _pad(seqs: list[list[int]]):
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


def _length_batches(data: list[list[int]], batch_size: int, rng: random.Random) -> list[list[int]]:
    """One epoch of batches of similar length (less padding), in random order."""
    idx = list(range(len(data)))
    rng.shuffle(idx)
    batches = []
    pool = batch_size * 50
    for i in range(0, len(idx), pool):
        chunk = sorted(idx[i : i + pool], key=lambda j: len(data[j]))
        batches += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def train_lm(
    sentences: list[str], out_dir: str | Path, cfg: LMConfig | None = None, dev: list[str] | None = None, log=print
) -> tuple[LanguageModel, dict]:
    """Train tokenizer + LM on `sentences` (corpus form, both styles); save to `out_dir`."""
    cfg = cfg or LMConfig()
    if not sentences:
        raise TextcycleError("language-model training needs sentences")
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    out = Path(out_dir)
    tok = train_tokenizer(
        sentences,
        out,
        vocab_size=cfg.vocab_size,
        model_type="bpe",
        character_coverage=cfg.character_coverage,
        seed=cfg.seed,
    )
    vocab_size = tok.sp_model.get_piece_size()
    model = build_model(cfg, vocab_size)
    lm = LanguageModel(model, tok, cfg.max_length)
    data = lm.encode(sentences, normalized=True)
    rng = random.Random(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=0.01)

    t0 = time.time()

    def progress(step: int) -> float:
        return max(step / cfg.steps, (time.time() - t0) / 60 / cfg.max_minutes)

    def lr_at(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        p0 = cfg.warmup_steps / cfg.steps
        frac = (progress(step) - p0) / max(1e-9, 1 - p0)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, frac))))  # cosine to 5%

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    use_bf16 = fast_bf16() if cfg.bf16 == "auto" else cfg.bf16 in ("yes", "true", "1", True)
    n_params = sum(p.numel() for p in model.parameters())
    log(
        f"LM: {n_params / 1e6:.2f}M parameters, vocab {vocab_size}, {len(data):,} sentences, "
        f"up to {cfg.steps} steps x {cfg.batch_size} or {cfg.max_minutes} min, bf16 {use_bf16}"
    )
    batches: list[list[int]] = []
    history = []
    step = 0
    run_loss, run_n = 0.0, 0
    while step < cfg.steps:
        if not batches:
            batches = _length_batches(data, cfg.batch_size, rng)
        ids, mask = _pad([data[i] for i in batches.pop()])
        labels = ids.masked_fill(mask == 0, -100)
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        run_loss += loss.item()
        run_n += 1
        minutes = (time.time() - t0) / 60
        last = progress(step) >= 1.0
        if step % cfg.eval_every == 0 or last:
            msg = f"step {step} loss {run_loss / run_n:.3f} lr {sched.get_last_lr()[0]:.2e} {minutes:.1f} min"
            rec = {"step": step, "train_loss": round(run_loss / run_n, 4), "minutes": round(minutes, 2)}
            run_loss, run_n = 0.0, 0
            if dev:
                rec["dev_ppl"] = round(lm.perplexity(dev, normalized=True), 2)
                msg += f" dev ppl {rec['dev_ppl']:.2f}"
            history.append(rec)
            log(msg)
        if last:
            if step < cfg.steps:
                log(f"stopped at step {step}: the {cfg.max_minutes}-minute budget is spent")
            break
    model.eval()
    info = {
        "config": asdict(cfg),
        "bf16_used": use_bf16,
        "parameters": n_params,
        "vocab_size": vocab_size,
        "steps_done": step,
        "sentences_seen": step * cfg.batch_size,
        "train_sentences": len(data),
        "minutes": round((time.time() - t0) / 60, 2),
        "history": history,
    }
    return lm, info
