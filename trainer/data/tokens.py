"""Token shards on disk, written by trainer.data.tokenize and read by trainer.data.loader.

Layout of a tokens directory:

    tokenizer.json
    tokenizer_config.json                     {"eos_token": ...}: the EOS every document ends with
    train/<domain>/<quality>__<length>.bin    flat uint16 (uint32 when the vocabulary needs it)
    train/<domain>/<quality>__<length>.idx    int64 document start offsets, plus the end offset
    train/<domain>/<quality>__<length>.json   header: tokenizer hash, EOS, dtype, documents, tokens, source hash,
                                              pieces per length
    train/<domain>/<quality>__<length>.docs.jsonl   per document: the metadata fields (source, domain, title, url)
    train/<domain>/<quality>__<length>.pieces  int64 (start, length) rows: the documents cut into 2^k pieces
    val/<domain>.bin|.idx|.json|.docs.jsonl   the held-out documents of the domain

Every document ends with the tokenizer's EOS (id 0 in a tokenizer we train), so documents never run together.
A piece of length n reads n + 1 tokens from its start (n predictions, like a window of the
concatenated stream) and lies inside one document: ``decompose`` cuts each document's predictions
into as many pieces of the longest length as fit, then the binary digits of the remainder down to
the shortest length (dataset decomposition, Pouransari et al. 2024); a remainder shorter than that is dropped.
``write_shard`` writes each file to a temporary name, then renames it (``core.files``); ``TokenShard(path_stem)`` memory-maps one for reading.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.files import atomic_write_bytes


def dtype_for(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 65536 else np.uint32)


def bucket_stem(tokens_dir: Path, domain: str, bucket: str) -> Path:
    quality, length = bucket.split("/")
    return Path(tokens_dir) / "train" / domain / f"{quality}__{length}"


def val_stem(tokens_dir: Path, domain: str) -> Path:
    return Path(tokens_dir) / "val" / domain


def decompose(offsets: np.ndarray, shortest: int, longest: int) -> np.ndarray:
    """(start, length) rows of the pieces of every document, lengths powers of 2 in [shortest, longest]."""
    starts, predictions = offsets[:-1], np.diff(offsets) - 1
    full, rest = predictions // longest, predictions % longest
    rows = [np.stack([np.repeat(starts, full) + _rank_within(full) * longest,
                      np.full(int(full.sum()), longest)], axis=1)]
    length = longest // 2
    while length >= shortest:
        has = (rest & length) > 0
        before = full * longest + (rest & ~(2 * length - 1))  # the longer pieces come first in the document
        rows.append(np.stack([starts[has] + before[has], np.full(int(has.sum()), length)], axis=1))
        length //= 2
    return np.concatenate(rows).astype(np.int64)


def _rank_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for each count c, concatenated."""
    ends = np.cumsum(counts)
    return np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - counts, counts)


def piece_lengths(seq_len: int, shortest: int) -> list[int]:
    """The 2^k piece lengths from ``shortest`` up to the longest that fits the context."""
    longest = 1 << (seq_len.bit_length() - 1)
    return [1 << k for k in range(shortest.bit_length() - 1, longest.bit_length())]


def write_shard(stem: Path, documents: list[np.ndarray], dtype: np.dtype, header: dict, fields: list[dict],
                lengths: Sequence[int] = ()) -> dict:
    """Concatenate token arrays (each ending in EOS) into ``stem.bin`` with its index, the documents'
    metadata ``fields``, their pieces of ``lengths`` (none when empty) and the header."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    sizes = np.array([len(d) for d in documents], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = np.concatenate(documents).astype(dtype) if documents else np.zeros(0, dtype)
    header = dict(header, dtype=str(np.dtype(dtype)), documents=len(documents), tokens=int(offsets[-1]))
    atomic_write_bytes(stem.with_suffix(".bin"), flat.tobytes())
    atomic_write_bytes(stem.with_suffix(".idx"), offsets.tobytes())
    atomic_write_bytes(stem.with_suffix(".docs.jsonl"), "".join(json.dumps(f, sort_keys=True) + "\n" for f in fields).encode())
    if lengths:
        pieces = decompose(offsets, min(lengths), max(lengths))
        atomic_write_bytes(stem.with_suffix(".pieces"), pieces.tobytes())
        header["pieces"] = {str(n): int((pieces[:, 1] == n).sum()) for n in lengths}
    # The header goes last: its presence marks the shard complete.
    atomic_write_bytes(stem.with_suffix(".json"), json.dumps(header, sort_keys=True, indent=1).encode())
    return header


def read_header(stem: Path) -> dict | None:
    path = stem.with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else None


class TokenShard:
    def __init__(self, stem: Path):
        self.stem = Path(stem)
        header = read_header(self.stem)
        if header is None:
            raise FileNotFoundError(f"{self.stem}.json is missing; run `python -m trainer tokenize` first")
        self.header = header
        n = self.header["tokens"]
        self.tokens = (np.memmap(self.stem.with_suffix(".bin"), dtype=self.header["dtype"], mode="r", shape=(n,))
                       if n else np.zeros(0, self.header["dtype"]))
        self.offsets = np.fromfile(self.stem.with_suffix(".idx"), dtype=np.int64)
        self._pieces: np.ndarray | None = None
        self._fields: list[dict] | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    def pieces(self, length: int) -> np.ndarray:
        """Start offsets of the pieces of ``length``, in document order."""
        if self._pieces is None:
            self._pieces = np.fromfile(self.stem.with_suffix(".pieces"), dtype=np.int64).reshape(-1, 2)
        return self._pieces[self._pieces[:, 1] == length, 0]

    def fields(self, document: int) -> dict:
        if self._fields is None:
            self._fields = [json.loads(line) for line in self.stem.with_suffix(".docs.jsonl").read_text().splitlines()]
        return self._fields[document]

    def document_at(self, position: int) -> int:
        return int(np.searchsorted(self.offsets, position, side="right")) - 1
