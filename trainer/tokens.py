"""Token shards on disk, written by trainer.tokenize and read by trainer.data.

Layout of a tokens directory:

    tokenizer.json
    train/<domain>/<quality>__<length>.bin    flat uint16 (uint32 when the vocabulary needs it)
    train/<domain>/<quality>__<length>.idx    int64 document start offsets, plus the end offset
    train/<domain>/<quality>__<length>.json   header: tokenizer hash, dtype, documents, tokens, source hash
    val/<domain>.bin|.idx|.json               the held-out documents of the domain

Every document ends with the end-of-text token (id 0 in a tokenizer we train), so documents never run together.
``write_shard`` and ``atomic_write`` write to a temporary name, then rename; ``TokenShard(path_stem)`` memory-maps one for reading.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


def dtype_for(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= 65536 else np.uint32)


def bucket_stem(tokens_dir: Path, domain: str, bucket: str) -> Path:
    quality, length = bucket.split("/")
    return Path(tokens_dir) / "train" / domain / f"{quality}__{length}"


def val_stem(tokens_dir: Path, domain: str) -> Path:
    return Path(tokens_dir) / "val" / domain


TMP_SUFFIX = ".tmp"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` under a name no other process uses, then rename it into place. The name carries the
    pid because DDP ranks may write the same file at once; ``remove_leftovers`` clears those a kill left."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def remove_leftovers(folder: Path) -> int:
    """Delete temporary files under ``folder`` left by killed writers; call only while holding the folder."""
    leftovers = [p for p in Path(folder).rglob(f".*{TMP_SUFFIX}") if p.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


def write_shard(stem: Path, documents: list[np.ndarray], dtype: np.dtype, header: dict) -> dict:
    """Concatenate token arrays (each ending in EOS) into ``stem.bin`` with its index and header."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(d) for d in documents], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate(documents).astype(dtype) if documents else np.zeros(0, dtype)
    header = dict(header, dtype=str(np.dtype(dtype)), documents=len(documents), tokens=int(offsets[-1]))
    atomic_write(stem.with_suffix(".bin"), flat.tobytes())
    atomic_write(stem.with_suffix(".idx"), offsets.tobytes())
    # The header goes last: its presence marks the shard complete.
    atomic_write(stem.with_suffix(".json"), json.dumps(header, sort_keys=True, indent=1).encode())
    return header


def read_header(stem: Path) -> dict | None:
    path = stem.with_suffix(".json")
    return json.loads(path.read_text()) if path.is_file() else None


class TokenShard:
    def __init__(self, stem: Path):
        self.stem = Path(stem)
        self.header = read_header(self.stem)
        if self.header is None:
            raise FileNotFoundError(f"{self.stem}.json is missing; run `python -m trainer tokenize` first")
        n = self.header["tokens"]
        self.tokens = (np.memmap(self.stem.with_suffix(".bin"), dtype=self.header["dtype"], mode="r", shape=(n,))
                       if n else np.zeros(0, self.header["dtype"]))
        self.offsets = np.fromfile(self.stem.with_suffix(".idx"), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.tokens)
