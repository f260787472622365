"""A phase's sample index: ``build_index(phase, buckets, steps, sampling, cache_dir) -> SampleIndex``.

``sequence.mode: concat``: every sample is a window of ``seq_len`` at a multiple of ``seq_len`` in a
bucket's token file, ``global_batch`` of them per step; each bucket gives its planned share of the
windows (domain share x bucket weight, capped by the repetition guard), interleaved by always
drawing next the bucket furthest behind its target; within a bucket, epoch ``e`` visits the windows
in a permutation seeded by (seed, phase, bucket, e). ``decomposed``: pieces of one document,
see trainer/data/pieces.py. The index is fingerprinted and cached under ``<out>/cache/``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np

from core.config import to_mapping
from trainer.curriculum import Phase
from trainer.data.loader import Bucket, SampleIndex, Sampling, apportion, blend, draws, warn_capped
from trainer.data.pieces import decomposed_index
from core.files import atomic_write_bytes


def concat_index(phase: Phase, buckets: list[Bucket], steps: int, sampling: Sampling) -> SampleIndex:
    seq_len = sampling.seq_len
    caps = np.array([math.floor(sampling.max_epochs * b.windows(seq_len)) for b in buckets], dtype=np.int64)
    counts, capped = apportion([b.weight for b in buckets], steps * sampling.global_batch, caps)
    warn_capped(buckets, capped, caps, sampling.max_epochs, "windows")
    order = blend(counts)
    starts = np.empty(len(order), dtype=np.int64)
    for b, bucket in enumerate(buckets):
        positions = np.flatnonzero(order == b)
        starts[positions] = draws(sampling.seed, phase.name, bucket, "windows", len(positions),
                                  bucket.windows(seq_len)) * seq_len
    rows = np.stack([order, starts, np.full(len(order), seq_len)], axis=1)
    # Capped buckets can leave the phase short of whole steps; the last partial step is dropped.
    return SampleIndex(rows, np.arange(len(rows) // sampling.global_batch + 1) * sampling.global_batch)


def fingerprint(phase: Phase, buckets: list[Bucket], steps: int, sampling: Sampling) -> str:
    spec = {"phase": phase.name, "steps": steps, "sampling": dataclasses.asdict(sampling),
            "sequence": to_mapping(phase.sequence), "format": 2,
            "buckets": [[b.domain, b.key, b.weight, b.shard.header["tokens"], b.shard.header["tokenizer"],
                         b.shard.header["source"]] for b in buckets]}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def build_index(phase: Phase, buckets: list[Bucket], steps: int, sampling: Sampling,
                cache_dir: Path | None = None) -> SampleIndex:
    """The phase's samples in training order; cached by fingerprint when ``cache_dir`` is given."""
    cache = cache_dir / f"index-{phase.name}-{fingerprint(phase, buckets, steps, sampling)}.npz" if cache_dir else None
    if cache and cache.is_file():
        with np.load(cache) as saved:
            return SampleIndex(saved["rows"], saved["step_starts"])
    build = decomposed_index if phase.sequence.mode == "decomposed" else concat_index
    index = build(phase, buckets, steps, sampling)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, rows=index.rows, step_starts=index.step_starts)
        atomic_write_bytes(cache, buffer.getvalue())
    return index
