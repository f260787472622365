"""The mixture-aware loader: a deterministic sample index per curriculum phase.

A sample is a window of ``seq_len + 1`` tokens at a multiple of ``seq_len`` in a bucket's flat
token file (documents are separated by EOS). For each phase, ``build_index`` decides how many
samples each bucket gives (domain share x bucket weight, capped by the repetition guard), then
interleaves them by always drawing next the bucket furthest behind its target, as Megatron's
blended datasets do. Within a bucket, epoch ``e`` visits the windows in a permutation seeded by
(seed, phase, bucket, e). The index is fingerprinted and cached under ``<out>/cache/``.

``PhaseLoader(index, buckets, seq_len).batch(start, count)`` returns samples ``[start, start+count)``
of the index, so resuming needs only the cursor (samples consumed so far in the phase).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch

from trainer.config import ConfigError
from trainer.curriculum import Phase
from trainer.tokens import TokenShard, atomic_write, bucket_stem, val_stem


@dataclasses.dataclass
class Bucket:
    domain: str
    key: str  # "<quality>/<length>"
    shard: TokenShard
    weight: float  # planned share of the phase's tokens

    def windows(self, seq_len: int) -> int:
        return max((len(self.shard) - 1) // seq_len, 0)


def phase_buckets(tokens_dir: Path, phase: Phase) -> list[Bucket]:
    buckets = []
    for domain, mix in sorted(phase.mixture.items()):
        if mix.share == 0:
            continue
        found = {f"{p.stem.replace('__', '/')}": p for p in sorted((Path(tokens_dir) / "train" / domain).glob("*.json"))}
        if not found:
            raise ConfigError(f"phase {phase.name}: domain '{domain}' has no token shards in {tokens_dir}/train; "
                              "check the domain name or run `python -m trainer tokenize`")
        missing = sorted(set(mix.buckets) - set(found))
        if missing:
            raise ConfigError(f"phase {phase.name}: mixture.{domain}.buckets names {missing}, which have no token "
                              f"shards; existing buckets: {sorted(found)}")
        shards = {key: TokenShard(bucket_stem(tokens_dir, domain, key)) for key in (mix.buckets or found)}
        raw = mix.buckets or {key: len(s) for key, s in shards.items()}
        total = sum(raw.values())
        if total <= 0:
            raise ConfigError(f"phase {phase.name}: domain '{domain}' has share {mix.share} but no tokens or weights")
        buckets += [Bucket(domain, key, shards[key], mix.share * raw[key] / total) for key in sorted(shards)]
    return buckets


def quotas(buckets: list[Bucket], n_samples: int, seq_len: int, max_epochs: float) -> np.ndarray:
    """Samples per bucket: the planned shares, with any bucket over ``max_epochs`` capped and its
    excess given to the others in proportion to their weights."""
    weights = np.array([b.weight for b in buckets], dtype=np.float64)
    caps = np.array([math.floor(max_epochs * b.windows(seq_len)) for b in buckets], dtype=np.int64)
    capped = np.zeros(len(buckets), dtype=bool)
    while True:
        free = ~capped & (weights > 0)
        remaining = n_samples - caps[capped].sum()
        want = np.where(capped, caps, 0).astype(np.float64)
        if free.any():
            want[free] = remaining * weights[free] / weights[free].sum()
        over = free & (want > caps)
        if not over.any():
            break
        capped |= over
    for i in np.flatnonzero(capped):
        b, w = buckets[i], weights[i]
        warnings.warn(f"bucket {b.domain}:{b.key} would be repeated more than max_epochs={max_epochs} times; "
                          f"capped at {caps[i]} samples (planned share {w:.3f}). Add data, lower "
                          "the phase's tokens, or raise train.data.max_epochs", stacklevel=2)
    counts = np.floor(want).astype(np.int64)
    short = n_samples - counts.sum()
    if free.any() and short > 0:  # rounding remainder: to the buckets with the largest fractional part
        order = np.argsort(-(want - counts) * free, kind="stable")[:short]
        counts[order] += 1
    return np.minimum(counts, caps)


def blend(counts: np.ndarray) -> np.ndarray:
    """Bucket id per sample: each step draws the bucket furthest behind its target share."""
    n = int(counts.sum())
    share = counts / max(n, 1)
    drawn = np.zeros(len(counts), dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        b = int(np.argmax(share * (i + 1) - drawn))
        order[i] = b
        drawn[b] += 1
    return order


def _window_order(seed: int, phase: str, bucket: Bucket, epoch: int, windows: int) -> np.ndarray:
    key = [seed, zlib.crc32(phase.encode()), zlib.crc32(f"{bucket.domain}:{bucket.key}".encode()), epoch]
    return np.random.default_rng(key).permutation(windows)


def fingerprint(phase: Phase, buckets: list[Bucket], n_samples: int, seq_len: int, seed: int, max_epochs: float) -> str:
    spec = {"phase": phase.name, "n": n_samples, "seq_len": seq_len, "seed": seed, "max_epochs": max_epochs,
            "buckets": [[b.domain, b.key, b.weight, b.shard.header["tokens"], b.shard.header["tokenizer"],
                         b.shard.header["source"]] for b in buckets]}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def build_index(phase: Phase, buckets: list[Bucket], n_samples: int, seq_len: int, seed: int,
                max_epochs: float, cache_dir: Path | None = None) -> np.ndarray:
    """(n, 2) int64 array of (bucket id, window); cached by fingerprint when ``cache_dir`` is given."""
    cache = cache_dir / f"index-{phase.name}-{fingerprint(phase, buckets, n_samples, seq_len, seed, max_epochs)}.npy" \
        if cache_dir else None
    if cache and cache.is_file():
        return np.load(cache)
    order = blend(quotas(buckets, n_samples, seq_len, max_epochs))
    windows = np.empty(len(order), dtype=np.int64)
    for b, bucket in enumerate(buckets):
        positions = np.flatnonzero(order == b)
        per_epoch = bucket.windows(seq_len)
        epochs = math.ceil(len(positions) / per_epoch) if len(positions) else 0
        draws = np.concatenate([_window_order(seed, phase.name, bucket, e, per_epoch) for e in range(epochs)]) \
            if epochs else np.zeros(0, np.int64)
        windows[positions] = draws[: len(positions)]
    index = np.stack([order, windows], axis=1)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, index)
        atomic_write(cache, buffer.getvalue())
    return index


def realized_shares(index: np.ndarray, buckets: list[Bucket]) -> dict[str, float]:
    counts = np.bincount(index[:, 0], minlength=len(buckets))
    shares: dict[str, float] = {}
    for bucket, count in zip(buckets, counts):
        shares[bucket.domain] = shares.get(bucket.domain, 0.0) + count / max(len(index), 1)
    return shares


class PhaseLoader:
    def __init__(self, index: np.ndarray, buckets: list[Bucket], seq_len: int):
        self.index, self.buckets, self.seq_len = index, buckets, seq_len

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, start: int, count: int) -> torch.Tensor:
        rows = self.index[start:start + count]
        out = np.empty((len(rows), self.seq_len + 1), dtype=np.int64)
        for i, (b, w) in enumerate(rows):
            at = w * self.seq_len
            out[i] = self.buckets[b].shard.tokens[at:at + self.seq_len + 1]
        return torch.from_numpy(out)


def validation_batches(tokens_dir: Path, domains: list[str], seq_len: int, sequences: int) -> dict[str, torch.Tensor]:
    """The first ``sequences`` windows of each domain's held-out documents: a fixed evaluation set."""
    out = {}
    for domain in domains:
        tokens = TokenShard(val_stem(tokens_dir, domain)).tokens
        n = min(sequences, (len(tokens) - 1) // seq_len)
        if n <= 0:
            warnings.warn(f"domain '{domain}' has fewer than {seq_len + 1} validation tokens; no validation loss "
                          "for it. Raise train.data.val_fraction or add data", stacklevel=2)
            continue
        out[domain] = torch.stack([torch.from_numpy(tokens[i * seq_len:(i + 1) * seq_len + 1].astype(np.int64))
                                   for i in range(n)])
    return out
