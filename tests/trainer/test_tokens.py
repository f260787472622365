"""Token shard files: written whole under their final name, read back as written."""
import os

import numpy as np

from trainer.tokens import TokenShard, atomic_write, remove_leftovers, write_shard


def test_a_shard_reads_back_its_documents(tmp_path):
    docs = [np.array([5, 6, 0]), np.array([7, 0])]
    header = write_shard(tmp_path / "train/legal/high__short", docs, np.uint16, {"tokenizer": "t"})
    shard = TokenShard(tmp_path / "train/legal/high__short")
    assert header["documents"] == 2 and header["tokens"] == 5 and shard.header == header
    assert shard.tokens.tolist() == [5, 6, 0, 7, 0] and shard.offsets.tolist() == [0, 3, 5]


def test_temporary_names_are_per_process_and_leftovers_are_removed(tmp_path):
    atomic_write(tmp_path / "a.bin", b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    # what a writer killed before its rename leaves; another process's writer would use another name
    killed = tmp_path / "deep" / f".b.bin.{os.getpid() + 1}.tmp"
    killed.parent.mkdir()
    killed.write_bytes(b"half")
    assert remove_leftovers(tmp_path) == 1
    assert not killed.exists() and (tmp_path / "a.bin").read_bytes() == b"whole"
