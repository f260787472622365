"""Encoding by distinct pieces gives the library's own ids (its encode, special tokens included),
document for document, on generated unfamiliar text (many scripts, emoji, digits, code, whitespace
runs, control characters, letters newer than the library's regex knows, an added token's text), for
the run's own GPT-2-style BPE and a Llama-3-style one; and a pipeline it cannot take goes whole
through the library, saying why."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer, pre_tokenizers

from pipeline.export.pieces import PieceEncoder
from tests.offline_tokenizers import llama3_style, unfamiliar_texts, wordpiece_dir
from trainer.data.tokenize import EOS, train_tokenizer

# letters to Python's regex, not to the library's: it keeps them in one piece with the "!"s
ODD_LETTERS = "!\u0558! !\u209d!"
FIXED = [
    "",
    " ",
    "  ",
    "\n\n",
    "a  b",
    "it's   don't 've IT'S 'LL",
    f"x{EOS}y",
    "x<|end_of_text|>y",
    "héllo wörld",
    "a \n b\t\tc  ",
    "1234567 12 1 ٣٤٥٦",
    "\x1c\x1d\x1e\x1f a\x1cb",
    "ſ 'ſ K 'K",
    ODD_LETTERS,
]


def texts(count: int, seed: int = 0) -> list[str]:
    return FIXED + unfamiliar_texts(count, seed)


def assert_same(tokenizer: Tokenizer, documents: list[str], eos: int) -> PieceEncoder:
    encoder = PieceEncoder(tokenizer, eos)
    ids, lengths = encoder.encode(documents, "uint16")
    expected = [e.ids + [eos] for e in tokenizer.encode_batch(documents)]
    assert lengths.tolist() == [len(e) for e in expected]
    assert np.array_equal(ids, np.concatenate([np.array(e, dtype=np.uint16) for e in expected]))
    return encoder


@pytest.mark.parametrize("pipeline", ["gpt2", "llama3"])
def test_pieces_encode_as_the_library_does(tmp_path, pipeline):
    documents = texts(1200)
    path = tmp_path / "tokenizer.json"
    trained_on = documents + [ODD_LETTERS] * 300  # merges across their split
    if pipeline == "gpt2":
        tokenizer = train_tokenizer(trained_on, 600, path)
    else:
        tokenizer = Tokenizer.from_file(str(llama3_style(path, trained_on, 600)))
        assert tokenizer.encode("a").ids[0] == tokenizer.token_to_id("<|begin_of_text|>")
    eos = tokenizer.token_to_id("<|end_of_text|>" if pipeline == "llama3" else EOS)
    encoder = assert_same(tokenizer, documents, eos)
    assert encoder.by_piece and not encoder.fallback
    # the letters of Unicode 16 are the ones the two regex engines class otherwise
    assert encoder.differ == {"\u0558", "\u209d"}
    assert 0 < encoder.whole < 0.3 * len(documents)  # both paths were taken
    assert "documents encoded whole by the library" in encoder.summary()


def test_a_pipeline_that_splits_otherwise_is_left_to_the_library(tmp_path):
    documents = texts(300, seed=1)
    tokenizer = train_tokenizer(documents, 400, tmp_path / "tokenizer.json")
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    encoder = assert_same(tokenizer, documents, 0)
    assert not encoder.by_piece and encoder.whole == len(documents)
    assert encoder.summary().endswith("its ByteLevel pre-tokenizer adds a prefix space")
    wordpiece = Tokenizer.from_file(
        str(wordpiece_dir(tmp_path / "wp", documents) / "tokenizer.json")
    )
    assert assert_same(wordpiece, documents, 2).fallback == "its model is WordPiece"
