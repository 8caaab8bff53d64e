"""A SentencePiece vocabulary shared by both styles, usable as a Hugging Face tokenizer.

`train_tokenizer` trains SentencePiece (BPE by default) on the training text of both styles;
it works on raw Chinese as well as on tokenised English, since SentencePiece needs no word
segmentation. `TextcycleTokenizer` wraps the model as a `transformers` tokenizer
(`encode`, batch `__call__`, `decode`, special tokens, `save_pretrained`/`from_pretrained`).
Ids: 0 = <pad>, 1 = <unk>, 2 = <s>, 3 = </s>.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import sentencepiece as spm
from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

from ..errors import TextcycleError
from ..files import atomic_write_text
from .vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, decode_ids, encode_ids  # noqa: F401 (the ids live in vocab.py)

if TYPE_CHECKING:
    from .config import TextCycleConfig
    from .data import UnpairedCorpus


class TextcycleTokenizer(SentencePieceBackend):
    """SentencePiece tokenizer with `</s>` appended to every encoded sentence."""

    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, **kwargs):
        kwargs.setdefault("pad_token", "<pad>")
        kwargs.setdefault("unk_token", "<unk>")
        kwargs.setdefault("bos_token", "<s>")
        kwargs.setdefault("eos_token", "</s>")
        kwargs.setdefault("legacy", True)
        super().__init__(vocab_file=vocab_file, **kwargs)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        ids = list(token_ids_0) + [self.eos_token_id]
        if token_ids_1 is not None:
            ids += list(token_ids_1) + [self.eos_token_id]
        return ids

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        if already_has_special_tokens:
            return [1 if t in (PAD_ID, BOS_ID, EOS_ID) else 0 for t in token_ids_0]
        mask = [0] * len(token_ids_0) + [1]
        if token_ids_1 is not None:
            mask += [0] * len(token_ids_1) + [1]
        return mask

    # Fast paths for training: straight to SentencePiece, no Python-level trie.
    def encode_fast(self, texts: list[str], max_length: int) -> list[list[int]]:
        """Ids of each text with `</s>` appended, cut to `max_length` (`vocab.encode_ids`)."""
        return encode_ids(self.sp_model, texts, max_length)

    def decode_fast(self, batch: list[list[int]]) -> list[str]:
        """Decode id lists, stopping at `</s>` and dropping pad/bos (`vocab.decode_ids`)."""
        return decode_ids(self.sp_model, batch)

    @classmethod
    def from_dir(cls, path: str | Path) -> "TextcycleTokenizer":
        f = Path(path) / "tokenizer.model"
        if not f.is_file():
            raise TextcycleError(f"no tokenizer.model in {path}")
        try:
            return cls(vocab_file=str(f))
        except Exception as e:
            raise TextcycleError(f"{f}: not a valid SentencePiece model ({e})") from None


def train_tokenizer(
    sentences: list[str],
    out_dir: str | Path,
    vocab_size: int = 8000,
    model_type: str = "bpe",
    character_coverage: float = 1.0,
    seed: int = 0,
) -> TextcycleTokenizer:
    """Train SentencePiece on `sentences` (both styles) and save `tokenizer.model` to `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not sentences:
        raise TextcycleError("cannot train a tokenizer on no sentences")
    model = io.BytesIO()
    kwargs = dict(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        num_threads=1,
        minloglevel=2,
        split_digits=True,
        byte_fallback=False,
        max_sentence_length=4096,
    )
    if model_type == "unigram":
        kwargs["hard_vocab_limit"] = False
    try:
        spm.SentencePieceTrainer.train(**kwargs)
    except RuntimeError as e:
        msg = str(e).splitlines()[0] if str(e) else repr(e)
        if "Vocabulary size" in msg and vocab_size > 100:
            # small corpora (tests, tiny configs) cannot fill a big vocabulary: retry smaller
            kwargs["vocab_size"] = max(64, vocab_size // 4)
            kwargs["sentence_iterator"] = iter(sentences)
            kwargs["model_writer"] = model = io.BytesIO()
            kwargs["hard_vocab_limit"] = False
            try:
                spm.SentencePieceTrainer.train(**kwargs)
            except RuntimeError as e2:
                msg2 = str(e2).splitlines()[0] if str(e2) else repr(e2)
                raise TextcycleError(
                    f"SentencePiece training failed: {msg2} (vocabulary size {vocab_size}; "
                    "for Chinese use a character_coverage below 1, e.g. 0.9995)"
                ) from None
        else:
            raise TextcycleError(f"SentencePiece training failed: {msg}") from None
    (out / "tokenizer.model").write_bytes(model.getvalue())
    tok = TextcycleTokenizer(vocab_file=str(out / "tokenizer.model"))
    tok.save_pretrained(str(out))
    return tok


# ---------------------------------------------------------------- a run's tokenizer

TOKENIZER_RECORD = "textcycle_tokenizer.json"  # how tokenizer/ was made, to catch a stale one


def tokenizer_recipe(cfg: "TextCycleConfig", corpus: "UnpairedCorpus") -> dict:
    """What the run's tokenizer depends on: its settings and a fingerprint of the training text."""
    h = hashlib.sha256()
    for s in (0, 1):
        for line in corpus.train[s]:
            h.update(line.encode("utf-8"))
            h.update(b"\n")
    t = cfg.tokenizer
    return {
        "vocab_size": t.vocab_size,
        "model_type": t.model_type,
        "character_coverage": t.character_coverage,
        "train_text_sha256": h.hexdigest(),
    }


def prepare_tokenizer(cfg: "TextCycleConfig", corpus: "UnpairedCorpus", tok_dir: Path, log=print) -> None:
    """Train the tokenizer, or reuse the one in `tok_dir` when it was made from the same data and
    settings; a stale one (other data, other vocab_size) is an error, never silently reused."""
    recipe = tokenizer_recipe(cfg, corpus)
    record = tok_dir / TOKENIZER_RECORD
    if (tok_dir / "tokenizer.model").is_file():
        if not record.is_file():
            log(f"warning: {tok_dir} has no record of how it was made ({TOKENIZER_RECORD}); reusing it")
            return
        try:
            old = json.loads(record.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = {}
        diff = [k for k in recipe if old.get(k) != recipe[k]]
        if diff:
            what = ", ".join(
                "the training text" if k == "train_text_sha256" else f"{k} {old.get(k)!r} -> {recipe[k]!r}"
                for k in diff
            )
            raise TextcycleError(
                f"{tok_dir} was made for other data or settings ({what}): delete it, or pick another train.output_dir"
            )
        return
    train_tokenizer(
        corpus.train[0] + corpus.train[1],
        tok_dir,
        cfg.tokenizer.vocab_size,
        cfg.tokenizer.model_type,
        cfg.tokenizer.character_coverage,
    )
    atomic_write_text(record, json.dumps(recipe, indent=1) + "\n")
