"""Encoding by distinct pieces gives the library's own ids, document for document, on texts that
stress the split (whitespace runs, contractions, punctuation, control and non-ASCII characters, an
added token's text) and on a tokenizer whose pipeline it must leave to the library."""

from __future__ import annotations

import random

import numpy as np
from tokenizers import Tokenizer, pre_tokenizers

from pipeline.export.pieces import PieceEncoder
from trainer.data.tokenize import EOS, train_tokenizer

ALPHABET = "abcdeéxyz 日'sdtrevl\n\t\r\x0b\x0c\x1c\x1f\x00\x7f.,!?0123-\"()<|>"
FIXED = [
    "",
    " ",
    "  ",
    "\n\n",
    "a  b",
    "it's   don't 've",
    f"x{EOS}y",
    "héllo wörld",
    "a \n b\t\tc  ",
]


def texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return FIXED + ["".join(rng.choices(ALPHABET, k=rng.randint(0, 60))) for _ in range(count)]


def library_ids(tokenizer: Tokenizer, documents: list[str], eos: int) -> list[list[int]]:
    return [e.ids + [eos] for e in tokenizer.encode_batch_fast(documents)]


def assert_same(tokenizer: Tokenizer, documents: list[str]) -> PieceEncoder:
    eos = tokenizer.token_to_id(EOS)
    encoder = PieceEncoder(tokenizer, eos)
    ids, lengths = encoder.encode(documents, "uint16")
    expected = library_ids(tokenizer, documents, eos)
    assert lengths.tolist() == [len(e) for e in expected]
    assert np.array_equal(ids, np.concatenate([np.array(e, dtype=np.uint16) for e in expected]))
    return encoder


def test_pieces_encode_as_the_library_does(tmp_path):
    documents = texts(1500)
    tokenizer = train_tokenizer(documents, 400, tmp_path / "tokenizer.json")
    encoder = assert_same(tokenizer, documents)
    assert encoder.by_piece
    certain = sum(map(encoder.certain, documents))
    assert 0 < certain < len(documents)  # both paths were taken


def test_a_pipeline_that_splits_otherwise_is_left_to_the_library(tmp_path):
    documents = texts(300, seed=1)
    tokenizer = train_tokenizer(documents, 400, tmp_path / "tokenizer.json")
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    assert not assert_same(tokenizer, documents).by_piece
