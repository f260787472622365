"""Megatron-Core indexed datasets: ``<prefix>.bin`` (the tokens) and ``<prefix>.idx`` in the ``MMIDIDX``
layout that megatron/core/datasets/indexed_dataset.py (``_IndexWriter``) writes, one sequence per
document; per phase a ``--per-split-data-args-path`` JSON and the ``--data-path`` weight/prefix list.

The .idx: header ``MMIDIDX\\0\\0``, version 1 (<Q), dtype code (<B), sequence count (<Q), document index
count (<Q, documents + 1), then int32 sequence lengths, int64 sequence byte pointers, int64 document
indices. Every critmix document already ends with the tokenizer's EOS, which is Megatron's EOD."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # run.py imports the trainer's loader (torch); `critmix --help` must stay instant
    from pipeline.export.files import Parts
    from pipeline.export.run import ExportSettings, PhaseWeights

INDEX_HEADER = b"MMIDIDX\x00\x00"
DTYPE_CODES = {
    np.dtype(np.uint16): 8,
    np.dtype(np.int32): 4,
}  # megatron.core.datasets.indexed_dataset.DType


def index_bytes(offsets: np.ndarray, dtype: np.dtype) -> bytes:
    lengths = np.diff(offsets)
    documents = np.arange(len(lengths) + 1, dtype=np.int64)  # one sequence per document
    return b"".join(
        [
            INDEX_HEADER,
            struct.pack("<Q", 1),
            struct.pack("<B", DTYPE_CODES[dtype]),
            struct.pack("<Q", len(lengths)),
            struct.pack("<Q", len(documents)),
            lengths.astype(np.int32).tobytes(),
            (offsets[:-1] * dtype.itemsize).astype(np.int64).tobytes(),
            documents.tobytes(),
        ]
    )


def blend_list(entries: list[tuple[float, str]]) -> list[str]:
    """Megatron's blend: weight, prefix, weight, prefix, ... (it normalizes the weights)."""
    return [item for weight, prefix in entries for item in (f"{weight:.10g}", prefix)]


class MegatronWriter:
    """Writes Megatron-Core indexed datasets and per-phase blends; see the module docstring."""

    dropped_features = {
        "metadata": "Megatron's GPTDataset has no per-document prefix: MeCo metadata prefixes are dropped, "
        "the phase trains on plain text throughout",
        "decomposed": "Megatron's GPTDataset samples fixed-length windows of the concatenated documents: the "
        "decomposed sequence lengths are dropped",
        "max_epochs": "Megatron's blend repeats a small prefix as often as its weight asks: the repetition "
        "guard (train.data.max_epochs) is not enforced",
    }

    format = "megatron"
    dtypes = tuple(DTYPE_CODES)

    @staticmethod
    def dtype_for(vocab_size: int) -> np.dtype:
        """``DType.optimal_dtype``: uint16 below 65,500 tokens, else int32."""
        return np.dtype(np.uint16 if vocab_size < 65500 else np.int32)

    def __init__(self, settings: ExportSettings, dtype: np.dtype):
        self.dtype = dtype

    def write_file(self, parts: Parts, folder: Path) -> tuple[dict, list[Path]]:
        """The file set as ``<name>.bin``/``.idx``; returns its manifest entry and the files written."""
        name = parts.file_set.name
        bin_path, idx_path = (folder / f"{name}.{ext}" for ext in ("bin", "idx"))
        parts.write_tokens(bin_path)
        offsets = np.concatenate([[0], np.cumsum(parts.lengths())])
        idx_path.write_bytes(index_bytes(offsets, self.dtype))
        return {"prefix": name}, [bin_path, idx_path]

    def write_phase(self, phase: PhaseWeights, folder: Path, final: Path) -> Path:
        """The per-split JSON (train: the phase's buckets, valid: the held-out documents by domain
        share) and the same train blend as a ``--data-path`` line; prefixes are absolute final paths."""

        def entries(files: list[tuple[Parts, float]]) -> list[str]:
            return blend_list([(weight, str(final / p.file_set.name)) for p, weight in files])

        config = folder / "phases" / f"{phase.name}.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        splits = {"phase": phase.name, "train": entries(phase.train), "valid": entries(phase.valid)}
        config.write_text(json.dumps(splits, indent=1) + "\n")
        config.with_suffix(".data-path.txt").write_text(" ".join(entries(phase.train)) + "\n")
        return config
