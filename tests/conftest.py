"""Shared test fixtures: offline Hugging Face, the shared data folder, tiny corpora."""

import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TEXTCYCLE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $TEXTCYCLE_SHARED_DATA); tests that need it skip when it is absent."""
    if not (SHARED / "yelp" / "sentiment.dev.0").is_file():
        pytest.skip(f"shared data not found at {SHARED} (set TEXTCYCLE_SHARED_DATA)")
    return SHARED


NEG_WORDS = ["bad", "awful", "terrible", "rude", "cold", "slow", "dirty", "bland"]
POS_WORDS = ["good", "great", "amazing", "friendly", "hot", "fast", "clean", "tasty"]
NOUNS = ["food", "service", "staff", "waiter", "place", "pizza", "room", "coffee"]


def make_sentences(words, n, seed):
    rng = random.Random(seed)
    return [
        f"the {rng.choice(NOUNS)} was {rng.choice(words)} ."
        if rng.random() < 0.5
        else f"this {rng.choice(NOUNS)} is so {rng.choice(words)} !"
        for _ in range(n)
    ]


def toy_seed(split_index: int, style: int) -> int:
    """A fixed seed per split and style: the toy corpora are the same in every test run
    (`hash()` of a tuple with a string is randomised per process)."""
    return 1000 + 10 * split_index + style


def write_toy_files(root: Path) -> dict:
    """Two small styles of toy review sentences as text files (train, dev, test) in `root`."""
    files = {}
    for k, (split, n) in enumerate((("train", 300), ("dev", 40), ("test", 40))):
        for s, words in ((0, NEG_WORDS), (1, POS_WORDS)):
            p = root / f"sentiment.{split}.{s}"
            p.write_text("\n".join(make_sentences(words, n, toy_seed(k, s))) + "\n", encoding="utf-8")
            files[f"{split}_{s}"] = str(p)
    files["dir"] = str(root)
    return files


@pytest.fixture
def tiny_text_files(tmp_path) -> dict:
    """Two small styles of toy review sentences, written as text files."""
    return write_toy_files(tmp_path)


@pytest.fixture(scope="session")
def bundled_sp():
    """The bundled Yelp model's SentencePiece vocabulary (for tests with a stand-in engine)."""
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(REPO / "textcycle" / "pretrained" / "yelp" / "tokenizer.model"))


TINY_CONFIG = str(REPO / "configs" / "tiny.yaml")


def write_corpus(root: Path) -> Path:
    """Toy negative/positive review sentences as a `folder` corpus (train, dev, test)."""
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 300), ("dev", 40), ("test", 40)):
        for s, words in ((0, NEG_WORDS), (1, POS_WORDS)):
            lines = make_sentences(words, n, seed=10 * s + len(split))
            (root / f"sentiment.{split}.{s}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """One tiny training run (in-process, configs/tiny.yaml), shared by every test that needs a model."""
    from textcycle.text.train import main

    root = tmp_path_factory.mktemp("tiny")
    data = write_corpus(root / "data")
    out = root / "run"
    assert main(["--config", TINY_CONFIG, "-o", f"data.path={data}", "-o", f"train.output_dir={out}"]) == 0
    return out


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _flip(sentence: str, src_words, tgt_words) -> str:
    return " ".join(tgt_words[src_words.index(w)] if w in src_words else w for w in sentence.split())


@pytest.fixture
def tiny_yelp(tmp_path) -> Path:
    """A Yelp-shaped data folder with 8 + 8 test sentences and their references."""
    root = tmp_path / "yelp"
    srcs = [make_sentences(NEG_WORDS, 8, 1), make_sentences(POS_WORDS, 8, 2)]
    for s, (a, b) in enumerate(((NEG_WORDS, POS_WORDS), (POS_WORDS, NEG_WORDS))):
        write_lines(root / "li2018" / f"sentiment.test.{s}", srcs[s])
        refs = [_flip(x, a, b) for x in srcs[s]]
        write_lines(root / f"reference.{s}", [f"{x}\t{r.capitalize()}" for x, r in zip(srcs[s], refs)])
        for k in range(4):
            write_lines(
                root / "references4" / f"reference{k}.{s}",
                refs if k == 0 else [r.replace("the ", "this ") for r in refs],
            )
    return root


def make_tiny_base(folder: Path, markers: tuple = ("<|im_start|>", "<|im_end|>")) -> Path:
    """A tiny random Llama with a byte-level BPE tokenizer that has the chat markers of the real
    base (SmolLM2's ChatML; `tiny_gemma_base` adds Gemma's), saved as a plain folder (no wheel, no
    download): the LM generator tests' base."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    words = NEG_WORDS + POS_WORDS + NOUNS + ["the", "was", "We", "waited", "minutes", "at", "Joe's", "Diner"]
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", *markers],
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


@pytest.fixture(scope="session")
def tiny_gemma_base(tmp_path_factory) -> Path:
    markers = ("<|im_start|>", "<|im_end|>", "<bos>", "<start_of_turn>", "<end_of_turn>")
    return make_tiny_base(tmp_path_factory.mktemp("tiny-gemma"), markers)


def rewrite_offline(*args: str):
    """`python -m textcycle.rewrite ARGS` as a new user's shell would run it: a bare PATH, no
    network for Hugging Face, the checkout on PYTHONPATH."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-m", "textcycle.rewrite", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(repo)},
    )
