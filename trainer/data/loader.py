"""The mixture-aware loader: a deterministic sample index per curriculum phase.

A sample is a sequence of ``length`` predictions: ``length + 1`` tokens from ``start`` in a bucket's
flat token file (documents are separated by EOS). A phase's ``SampleIndex`` lists its steps' samples
(built by trainer/data/index.py). This module holds what both sequence modes share: the phase's buckets
and their planned shares, apportioning counts under the repetition guard, blending draws so that
every prefix of the index is near the plan (as Megatron's blended datasets do), drawing items
epoch by epoch in seeded permutations, and the loader.

``PhaseLoader(index, buckets).micro_batch(step, part, parts)`` returns the ``part``-th of ``parts``
equal slices of a step's samples as (inputs, targets), so resuming needs only the phase's step.
"""
from __future__ import annotations

import dataclasses
import json
import math
import warnings
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from trainer.curriculum import Phase
from core.errors import ConfigError
from trainer.data.tokens import TokenShard, bucket_stem, val_stem


@dataclasses.dataclass
class Bucket:
    domain: str
    key: str  # "<quality>/<length>"
    shard: TokenShard
    weight: float  # planned share of the phase's tokens

    def windows(self, seq_len: int) -> int:
        return max((len(self.shard) - 1) // seq_len, 0)


def bucket_weights(phase: Phase, tokens: dict[str, dict[str, int]], where: str) -> list[tuple[str, str, float]]:
    """(domain, bucket, planned share) of a phase: each domain's share split over its buckets by the mixture's
    bucket weights, or by their tokens when it names none. ``tokens``: domain -> bucket -> the token count of
    each bucket found ``where`` (named in the errors); ``critmix export`` plans its files with this too."""
    weights = []
    for domain, mix in sorted(phase.mixture.items()):
        if mix.share == 0:
            continue
        found = tokens.get(domain, {})
        if not found:
            raise ConfigError(f"phase {phase.name}: domain '{domain}' has no documents in {where}; "
                              "check the domain name or run `python -m trainer tokenize`")
        missing = sorted(set(mix.buckets) - set(found))
        if missing:
            raise ConfigError(f"phase {phase.name}: mixture.{domain}.buckets names {missing}, which have no token "
                              f"shards; existing buckets: {sorted(found)}")
        raw = mix.buckets or found
        total = sum(raw.values())
        if total <= 0:
            raise ConfigError(f"phase {phase.name}: domain '{domain}' has share {mix.share} but no tokens or weights")
        weights += [(domain, key, mix.share * raw[key] / total) for key in sorted(raw)]
    return weights


def phase_buckets(tokens_dir: Path, phase: Phase) -> list[Bucket]:
    train = Path(tokens_dir) / "train"
    tokens = {domain: {p.stem.replace("__", "/"): json.loads(p.read_text())["tokens"]
                       for p in sorted((train / domain).glob("*.json"))} for domain in phase.mixture}
    return [Bucket(domain, key, TokenShard(bucket_stem(tokens_dir, domain, key)), weight)
            for domain, key, weight in bucket_weights(phase, tokens, f"{train}")]


@dataclasses.dataclass(frozen=True)
class Sampling:
    """How a phase's tokens become steps: ``global_batch`` windows of ``seq_len`` per step (the step's tokens)."""
    seq_len: int
    global_batch: int
    seed: int
    max_epochs: float

    @property
    def step_tokens(self) -> int:
        return self.seq_len * self.global_batch


@dataclasses.dataclass
class SampleIndex:
    rows: np.ndarray  # (n, 3) int64: bucket id, start token, length (predictions)
    step_starts: np.ndarray  # (steps + 1,) int64: step s is rows[step_starts[s]:step_starts[s + 1]]

    def __len__(self) -> int:
        return len(self.step_starts) - 1


def apportion(weights: npt.ArrayLike, total: int, caps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer counts summing to ``total`` (or to the caps' sum) in proportion to ``weights``, none over
    its cap: a capped entry's excess goes to the others in proportion to their weights. Returns (counts, capped)."""
    weights = np.asarray(weights, dtype=np.float64)
    capped = np.zeros(len(weights), dtype=bool)
    while True:
        free = ~capped & (weights > 0)
        want = np.where(capped, caps, 0).astype(np.float64)
        if free.any():
            want[free] = (total - caps[capped].sum()) * weights[free] / weights[free].sum()
        over = free & (want > caps)
        if not over.any():
            break
        capped |= over
    counts = np.floor(want).astype(np.int64)
    short = total - counts.sum()
    if free.any() and short > 0:  # rounding remainder: to the entries with the largest fractional part
        order = np.argsort(-(want - counts) * free, kind="stable")[:short]
        counts[order] += 1
    return np.minimum(counts, caps), capped


def warn_capped(buckets: list[Bucket], capped: np.ndarray, caps: np.ndarray, max_epochs: float, what: str) -> None:
    for i in np.flatnonzero(capped):
        b = buckets[i]
        warnings.warn(f"bucket {b.domain}:{b.key} would be repeated more than max_epochs={max_epochs} times; "
                      f"capped at {caps[i]} {what} (planned share {b.weight:.3f}). Add data, lower "
                      "the phase's tokens, or raise train.data.max_epochs", stacklevel=3)


def blend(counts: np.ndarray) -> np.ndarray:
    """Entry id per draw: each draw takes the entry furthest behind its target share."""
    n = int(counts.sum())
    share = counts / max(n, 1)
    drawn = np.zeros(len(counts), dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        b = int(np.argmax(share * (i + 1) - drawn))
        order[i] = b
        drawn[b] += 1
    return order


def draws(seed: int, phase: str, bucket: Bucket, kind: str, count: int, per_epoch: int) -> np.ndarray:
    """``count`` item numbers out of ``per_epoch``: epoch e visits them all in a permutation seeded by
    (seed, phase, bucket, kind, e), so no item repeats before every item was drawn."""
    epochs = math.ceil(count / per_epoch) if count else 0
    key = [seed, zlib.crc32(phase.encode()), zlib.crc32(f"{bucket.domain}:{bucket.key}".encode()), zlib.crc32(kind.encode())]
    orders = [np.random.default_rng(key + [e]).permutation(per_epoch) for e in range(epochs)]
    return np.concatenate(orders)[:count] if orders else np.zeros(0, np.int64)


def realized_shares(rows: np.ndarray, buckets: list[Bucket]) -> dict[str, float]:
    """Share of the tokens of ``rows`` per domain."""
    tokens = np.bincount(rows[:, 0], weights=rows[:, 2], minlength=len(buckets))
    shares: dict[str, float] = {}
    for bucket, count in zip(buckets, tokens):
        shares[bucket.domain] = shares.get(bucket.domain, 0.0) + float(count / max(tokens.sum(), 1))
    return shares


def realized_lengths(rows: np.ndarray) -> dict[int, float]:
    """Share of the tokens of ``rows`` per sequence length."""
    lengths, inverse = np.unique(rows[:, 2], return_inverse=True)
    tokens = np.bincount(inverse, weights=rows[:, 2])
    return {int(n): float(t / tokens.sum()) for n, t in zip(lengths, tokens)}


IGNORE = -100  # cross-entropy's ignore_index: targets that carry no loss (metadata prefixes)


def split(tokens: np.ndarray, is_prefix: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) of a batch of ``length + 1`` tokens; targets inside a prefix carry no loss."""
    ids = torch.from_numpy(tokens.astype(np.int64))
    targets = ids[:, 1:].clone()
    if is_prefix is not None:
        targets[torch.from_numpy(is_prefix[:, 1:])] = IGNORE
    return ids[:, :-1], targets


class PhaseLoader:
    """The steps of a phase's index; steps before ``prefix_steps`` carry the ``prefixer``'s metadata."""

    def __init__(self, index: SampleIndex, buckets: list[Bucket], prefixer=None, prefix_steps: int = 0):
        self.index, self.buckets, self.prefixer, self.prefix_steps = index, buckets, prefixer, prefix_steps

    def __len__(self) -> int:
        return len(self.index)

    def micro_batch(self, step: int, part: int, parts: int) -> tuple[torch.Tensor, torch.Tensor]:
        first, end = self.index.step_starts[step], self.index.step_starts[step + 1]
        size = (end - first) // parts
        rows = self.index.rows[first + part * size:first + (part + 1) * size]
        length = int(rows[0, 2])
        tokens = np.empty((len(rows), length + 1), dtype=np.int64)
        is_prefix = np.zeros(tokens.shape, dtype=bool) if step < self.prefix_steps else None
        for i, (b, start, _) in enumerate(rows):
            if is_prefix is None:
                tokens[i] = self.buckets[b].shard.tokens[start:start + length + 1]
            else:
                tokens[i], is_prefix[i] = self.prefixer.sequence(self.buckets[b].shard, start, length)
        return split(tokens, is_prefix)


def validation_batches(tokens_dir: Path, domains: list[str], seq_len: int, sequences: int) -> dict[str, np.ndarray]:
    """The first ``sequences`` windows of each domain's held-out documents: a fixed evaluation set."""
    out = {}
    for domain in domains:
        tokens = TokenShard(val_stem(tokens_dir, domain)).tokens
        n = min(sequences, (len(tokens) - 1) // seq_len)
        if n <= 0:
            warnings.warn(f"domain '{domain}' has fewer than {seq_len + 1} validation tokens; no validation loss "
                          "for it. Raise train.data.val_fraction or add data", stacklevel=2)
            continue
        out[domain] = np.stack([tokens[i * seq_len:(i + 1) * seq_len + 1] for i in range(n)]).astype(np.int64)
    return out
