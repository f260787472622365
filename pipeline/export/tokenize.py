"""Tokenizing for ``critmix export``: a task per Parquet shard file on the curation executor.

Task ``rank`` reads shard file ``rank`` (sorted by domain, quality, name), encodes its documents with
the export's tokenizer (pipeline/export/pieces.py), each followed by its EOS, and writes one part per file set it feeds (the
train bucket ``<quality>/<length>`` or the domain's held-out validation documents, chosen by the
trainer's ``is_validation``): ``<rank>/<file set>.tokens`` (the format's dtype) and ``.lengths``
(int64 document lengths). A task holds one shard file's tokens; its parts are written atomically
and the executor marks it complete after, so a killed export redoes only the unfinished tasks. The
parts of a file set, in task order, hold its documents in the trainer's own order (trainer/data/tokenize.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from loguru import logger

from core.files import atomic_write_bytes, file_sha256
from pipeline.export.files import VALID_BUCKET, FileSet
from pipeline.export.pieces import PieceEncoder
from trainer.data.tokenize import discover_buckets, is_validation, read_rows
from trainer.data.tokenizer import Keys, find_eos, load_tokenizer, tokenizer_file

BATCH = 8192  # documents encoded at a time: what their distinct pieces are found among
KEYS = Keys("--tokenizer", "--eos")


@dataclasses.dataclass(frozen=True)
class ExportTokenizer:
    path: Path  # its tokenizer.json
    vocab_size: int
    eos: str
    eos_id: int


def load_export_tokenizer(path: str | Path, eos: str = "") -> ExportTokenizer:
    """A local ``tokenizer.json`` or Hugging Face tokenizer directory and its EOS (``eos`` if named),
    found as the trainer finds them (trainer/data/tokenizer.py); never downloads."""
    file = tokenizer_file(path, KEYS)
    tokenizer = load_tokenizer(file)
    found = find_eos(tokenizer, file, eos, KEYS)
    return ExportTokenizer(file.absolute(), tokenizer.get_vocab_size(), found.token, found.id)


@dataclasses.dataclass(frozen=True)
class SourceFile:
    domain: str
    quality: str
    path: Path


def source_files(shards_dir: Path) -> list[SourceFile]:
    """The run's Parquet shard files, one task each, in the trainer's order."""
    return [
        SourceFile(domain, quality, path)
        for (domain, quality), paths in sorted(discover_buckets(shards_dir).items())
        for path in paths
    ]


def file_set_of(source: SourceFile, doc_id: str, length: str, val_fraction: float) -> FileSet:
    if is_validation(doc_id, val_fraction):
        return FileSet(source.domain, VALID_BUCKET, "valid")
    return FileSet(source.domain, f"{source.quality}/{length}", "train")


def document_counts(sources: list[SourceFile], val_fraction: float) -> dict[FileSet, int]:
    """Documents per file set, from the ids and length buckets only: what a curriculum may name is known
    before anything is tokenized or written."""
    counts: dict[FileSet, int] = {}
    for source in sources:
        for doc_id, length in read_rows([source.path], ["id", "length_bucket"]):
            key = file_set_of(source, doc_id, length, val_fraction)
            counts[key] = counts.get(key, 0) + 1
    return counts


@dataclasses.dataclass
class TokenizeTask:
    """Executor task ``rank``: tokenize ``sources[rank]`` into parts under ``parts``; see the module docstring."""

    sources: list[SourceFile]
    tokenizer: ExportTokenizer
    dtype: str
    val_fraction: float
    parts: Path

    def __call__(self, rank: int, world_size: int) -> dict:
        source = self.sources[rank]
        encoder = PieceEncoder(load_tokenizer(self.tokenizer.path), self.tokenizer.eos_id)
        texts: dict[FileSet, list[str]] = {}
        rows = read_rows([source.path], ["id", "text", "length_bucket"])
        for doc_id, text, length in rows:
            texts.setdefault(file_set_of(source, doc_id, length, self.val_fraction), []).append(
                text
            )
        tokens = 0
        task_dir = self.parts / f"{rank:05d}"
        for file_set, documents in sorted(texts.items()):
            encoded = [
                encoder.encode(documents[start : start + BATCH], self.dtype)
                for start in range(0, len(documents), BATCH)
            ]
            ids = np.concatenate([e[0] for e in encoded])
            lengths = np.concatenate([e[1] for e in encoded])
            # The lengths go last: collect_parts takes a part whose lengths exist as written.
            atomic_write_bytes(file_set.part(task_dir, "tokens"), ids.tobytes())
            atomic_write_bytes(file_set.part(task_dir, "lengths"), lengths.tobytes())
            tokens += int(lengths.sum())
        logger.info(f"export-tokenize task {rank}: {encoder.summary()}")
        return {"documents": sum(map(len, texts.values())), "tokens": tokens}


def work_key(
    sources: list[SourceFile], tokenizer: ExportTokenizer, dtype: str, val_fraction: float
) -> dict:
    """What the finished tasks' parts depend on: a rerun with another key starts them afresh."""
    return {
        "sources": [
            [str(s.path), s.path.stat().st_size, s.path.stat().st_mtime_ns] for s in sources
        ],
        "tokenizer": file_sha256(tokenizer.path),
        "eos": tokenizer.eos_id,
        "dtype": dtype,
        "val_fraction": val_fraction,
    }
