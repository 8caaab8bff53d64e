"""The SentencePiece tokenizer (textcycle.text.tokenizer): training, special ids, the fast paths,
and the Hugging Face interface."""

import pytest
from conftest import NEG_WORDS, POS_WORDS, make_sentences

from textcycle.errors import TextcycleError
from textcycle.text.tokenizer import EOS_ID, PAD_ID, TextcycleTokenizer, train_tokenizer


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    sents = make_sentences(NEG_WORDS, 300, 1) + make_sentences(POS_WORDS, 300, 2)
    return train_tokenizer(sents, tmp_path_factory.mktemp("tok"), vocab_size=120)


def test_special_ids_and_round_trip(tok):
    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    ids = tok.encode_fast(["the food was bad ."], max_length=40)[0]
    assert ids[-1] == EOS_ID and PAD_ID not in ids
    assert tok.decode_fast([ids + [PAD_ID, PAD_ID]]) == ["the food was bad ."]
    cut = tok.encode_fast(["the food was bad . " * 20], max_length=8)[0]
    assert len(cut) == 8 and cut[-1] == EOS_ID


def test_hugging_face_interface_and_reload(tok, tmp_path):
    batch = tok(["the food was bad .", "great !"], padding=True)
    rows = batch["input_ids"]
    assert len(rows[0]) == len(rows[1])  # padded to one length
    assert all([i for i in r if i != PAD_ID][-1] == EOS_ID for r in rows)
    tok.save_pretrained(str(tmp_path))
    again = TextcycleTokenizer.from_dir(tmp_path)
    assert again.encode_fast(["the staff is so friendly !"], 40) == tok.encode_fast(["the staff is so friendly !"], 40)


def test_errors(tmp_path):
    with pytest.raises(TextcycleError, match="no sentences"):
        train_tokenizer([], tmp_path / "t")
    with pytest.raises(TextcycleError, match="no tokenizer.model"):
        TextcycleTokenizer.from_dir(tmp_path)
    (tmp_path / "tokenizer.model").write_bytes(b"not a model")
    with pytest.raises(TextcycleError, match="not a valid SentencePiece model"):
        TextcycleTokenizer.from_dir(tmp_path)
