"""Token shard files: written whole under their final name, read back as written."""
import os

import numpy as np
import pytest

from trainer.data.tokens import TokenShard, decompose, piece_lengths, write_shard


def test_a_shard_reads_back_its_documents(tmp_path):
    docs = [np.array([5, 6, 0]), np.array([7, 0])]
    fields = [{"source": "a", "domain": "legal"}, {"source": "b", "domain": "legal", "title": "T"}]
    header = write_shard(tmp_path / "train/legal/high__short", docs, np.uint16, {"tokenizer": "t"}, fields, [2])
    shard = TokenShard(tmp_path / "train/legal/high__short")
    assert header["documents"] == 2 and header["tokens"] == 5 and shard.header == header
    assert shard.tokens.tolist() == [5, 6, 0, 7, 0] and shard.offsets.tolist() == [0, 3, 5]
    assert shard.fields(1) == fields[1] and shard.document_at(3) == 1 and shard.document_at(2) == 0
    assert header["pieces"] == {"2": 1} and shard.pieces(2).tolist() == [0]  # the second document has 1 prediction


def test_pieces_stay_inside_their_document_and_cover_it_down_to_the_shortest_length():
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 3000, 500)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    pieces = decompose(offsets, 16, 256)
    documents = np.searchsorted(offsets, pieces[:, 0], side="right") - 1
    # A piece reads length + 1 tokens from its start; all of them lie in the document it starts in.
    assert (pieces[:, 0] + pieces[:, 1] + 1 <= offsets[documents + 1]).all()
    assert set(pieces[:, 1]) <= {16, 32, 64, 128, 256}
    covered = np.bincount(documents, weights=pieces[:, 1], minlength=len(sizes))
    predictions = sizes - 1
    assert (covered == predictions - predictions % 16).all()  # only a remainder under 16 is dropped
    order = np.lexsort((pieces[:, 0], documents))  # no two pieces of a document overlap
    starts, ends = pieces[order, 0], pieces[order, 0] + pieces[order, 1]
    same = documents[order][1:] == documents[order][:-1]
    assert (starts[1:][same] >= ends[:-1][same]).all()


@pytest.mark.parametrize("seq_len, shortest, lengths", [(256, 32, [32, 64, 128, 256]), (300, 50, [32, 64, 128, 256]),
                                                        (32, 32, [32])])
def test_piece_lengths_are_the_powers_of_two_up_to_the_context(seq_len, shortest, lengths):
    assert piece_lengths(seq_len, shortest) == lengths
