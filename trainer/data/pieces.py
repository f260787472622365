"""The sample index of ``sequence.mode: decomposed`` (dataset decomposition, Pouransari et al. 2024).

Token shards hold every document cut into pieces of 2^k tokens (trainer/data/tokens.py). A step trains
on pieces of one length only, ``step_tokens / length`` of them, so every step has the same tokens
and no padding. The phase's steps get their lengths in proportion to ``sequence.lengths`` (token
shares), ordered by ``schedule``: ``fixed`` interleaves them, ``short_to_long`` sorts them, and
``cyclic`` runs short to long ``cycles`` times (the paper's best curriculum). Each bucket gives
each length its share of the pieces; where a bucket lacks long pieces (short documents), the other
lengths take more of it, so that the domain shares and the length shares both hold (iterative
proportional fitting of the bucket x length token table within the repetition caps).
"""
from __future__ import annotations

import warnings

import numpy as np

from trainer.curriculum import Phase, SequenceSpec
from trainer.data.loader import Bucket, SampleIndex, Sampling, apportion, blend, draws, realized_shares
from core.errors import ConfigError


def step_lengths(spec: SequenceSpec, steps: int) -> np.ndarray:
    """The piece length of every step of the phase, in training order."""
    lengths = np.array(sorted(spec.lengths), dtype=np.int64)
    counts, _ = apportion([spec.lengths[n] for n in lengths], steps, np.full(len(lengths), steps))
    if spec.schedule == "fixed":
        return lengths[blend(counts)]
    per_step = np.repeat(lengths, counts)
    if spec.schedule == "short_to_long":
        return per_step
    # cyclic: the i-th of c steps of a length falls in cycle i * cycles // c; each cycle goes short to long
    cycle = np.concatenate([np.arange(c) * spec.cycles // max(c, 1) for c in counts])
    return per_step[np.lexsort((per_step, cycle))]


def check_lengths(phase: Phase, buckets: list[Bucket], seq_len: int) -> None:
    for n in phase.sequence.lengths:
        if n > seq_len or seq_len % n:
            raise ConfigError(f"phase {phase.name}: sequence.lengths has {n}, which must divide model.seq_len "
                              f"({seq_len}) so that every step has the same tokens; use powers of 2 up to it")
        for bucket in buckets:
            if str(n) not in bucket.shard.header.get("pieces", {}):
                raise ConfigError(
                    f"phase {phase.name}: the token shards have no pieces of length {n} (they hold "
                    f"{sorted(map(int, bucket.shard.header.get('pieces', {})))}); set train.data.min_piece and "
                    "train.model.seq_len to cover it and run `python -m trainer tokenize` again")


def allocate(buckets: list[Bucket], lengths: np.ndarray, sequences: np.ndarray, max_epochs: float) -> np.ndarray:
    """(bucket, length) sequence counts: each length's column sums to ``sequences``, each bucket's
    tokens match its weight as closely as the caps (``max_epochs`` times its pieces) allow."""
    caps = np.array([[int(max_epochs * len(b.shard.pieces(n))) for n in lengths] for b in buckets], dtype=np.int64)
    weights = np.array([b.weight for b in buckets]) / sum(b.weight for b in buckets)
    column_tokens = sequences * lengths
    missing = (column_tokens > 0) & (caps.sum(0) == 0)
    if missing.any():
        raise ConfigError(f"no document of the phase's buckets is long enough for a piece of "
                          f"{lengths[np.argmax(missing)]} tokens; drop that length from sequence.lengths")
    table = np.outer(weights, column_tokens).astype(np.float64)
    for _ in range(200):
        table = np.minimum(table, caps * lengths)
        rows = table.sum(1)
        table *= np.divide(weights * column_tokens.sum(), rows, out=np.zeros_like(rows), where=rows > 0)[:, None]
        table = np.minimum(table, caps * lengths)
        columns = table.sum(0)
        table *= np.divide(column_tokens, columns, out=np.zeros_like(columns), where=columns > 0)
    counts = np.empty(caps.shape, dtype=np.int64)
    for j in range(len(lengths)):
        counts[:, j], _ = apportion(table[:, j], int(sequences[j]), caps[:, j])
        if counts[:, j].sum() < sequences[j]:
            raise ConfigError(f"the buckets hold too few pieces of {lengths[j]} tokens for the phase even at "
                              "train.data.max_epochs repeats; lower that length's share, the phase's tokens, "
                              "or raise max_epochs")
    return counts


def decomposed_index(phase: Phase, buckets: list[Bucket], steps: int, sampling: Sampling) -> SampleIndex:
    check_lengths(phase, buckets, sampling.seq_len)
    per_step = step_lengths(phase.sequence, steps)
    lengths = np.array(sorted(phase.sequence.lengths), dtype=np.int64)
    per_length = sampling.step_tokens // lengths  # sequences in a step of each length
    sequences = np.array([(per_step == n).sum() for n in lengths]) * per_length
    counts = allocate(buckets, lengths, sequences, sampling.max_epochs)
    queues = []  # per length: (bucket, start) of its sequences in the order steps take them
    for j, n in enumerate(lengths):
        order = blend(counts[:, j])
        starts = np.empty(len(order), dtype=np.int64)
        for b, bucket in enumerate(buckets):
            positions = np.flatnonzero(order == b)
            pieces = bucket.shard.pieces(int(n))
            starts[positions] = pieces[draws(sampling.seed, phase.name, bucket, f"pieces-{n}", len(positions), len(pieces))]
        queues.append(np.stack([order, starts, np.full(len(order), n)], axis=1))
    taken = np.zeros(len(lengths), dtype=np.int64)
    chunks = []
    for n in per_step:
        j = int(np.searchsorted(lengths, n))
        chunks.append(queues[j][taken[j]:taken[j] + per_length[j]])
        taken[j] += per_length[j]
    rows = np.concatenate(chunks)
    index = SampleIndex(rows, np.concatenate([[0], np.cumsum([len(c) for c in chunks])]))
    realized = realized_shares(rows, buckets)
    for domain, mix in phase.mixture.items():
        if mix.share and abs(realized.get(domain, 0.0) - mix.share) > 0.01:
            warnings.warn(f"phase {phase.name}: domain '{domain}' gets {realized.get(domain, 0.0):.3f} of the tokens "
                          f"instead of {mix.share:.3f}: its documents have too few pieces of the longer lengths. "
                          "Give the short lengths more share or add data", stacklevel=2)
    return index
