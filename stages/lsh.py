"""LSH banding, candidate verification and connected components for MinHash dedup.

A band task never collects its candidate pairs for the whole corpus: the documents are sorted by
(band key, id hash), each is paired with the next ``bucket_window`` documents of its bucket, the
pairs are verified against the signatures in chunks and folded into the task's union-find at
once, and only the pairs that joined two sets are kept as edges (at most one per document per
band). The clustering task then runs a union-find over the edges of all bands alone, so its memory
grows with the number of duplicates, not of documents. Sorting by id hash (not file position)
makes the pairs, hence the clusters, independent of how the input is split into files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def find_roots(parent: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    roots = parent[nodes]
    while True:
        up = parent[roots]
        if np.array_equal(up, roots):
            return roots
        roots = up


def union(parent: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """Merge the sets of each (left, right) pair; every root is the smallest index of its set.

    Vectorized hooking: each round hooks every larger root onto the smallest root it is paired
    with, then halves all paths, until no pair spans two sets.
    """
    while len(left):
        left_root, right_root = find_roots(parent, left), find_roots(parent, right)
        apart = left_root != right_root
        left, right = left[apart], right[apart]
        low, high = np.minimum(left_root[apart], right_root[apart]), np.maximum(left_root[apart], right_root[apart])
        np.minimum.at(parent, high, low)
        parent[:] = parent[parent]


def _load(paths: list[dict[str, Path]], part: str, mmap: bool = False) -> list[np.ndarray]:
    return [np.load(p[part], mmap_mode="r" if mmap else None) for p in paths]


class SignatureRows:
    """Signature rows by global document index, read through memory maps of the per-file arrays."""

    def __init__(self, paths: list[dict[str, Path]]):
        self.arrays = _load(paths, "signatures", mmap=True)
        self.offsets = np.cumsum([0] + [len(a) for a in self.arrays])

    def take(self, index: np.ndarray) -> np.ndarray:
        out = np.empty((len(index), self.arrays[0].shape[1]), dtype=np.uint32)
        file_of = np.searchsorted(self.offsets, index, side="right") - 1
        for f in np.unique(file_of):
            mask = file_of == f
            out[mask] = self.arrays[f][index[mask] - self.offsets[f]]
        return out


def band_pairs(keys: np.ndarray, id_hash: np.ndarray, valid: np.ndarray, window: int):
    """Candidate pairs (left, right) of one band, one offset at a time."""
    docs = np.flatnonzero(valid)
    order = docs[np.lexsort((id_hash[docs], keys[docs]))]
    sorted_keys = keys[order]
    for offset in range(1, window + 1):
        same = sorted_keys[:-offset] == sorted_keys[offset:]
        if not same.any():
            return
        yield order[:-offset][same], order[offset:][same]


def band_edges(paths: list[dict[str, Path]], config, band: int) -> tuple[np.ndarray, dict[str, int]]:
    """The verified pairs of one band not yet in one set when checked, as a [2, edges] array of document indices, and counters."""
    id_hash = np.concatenate(_load(paths, "id_hash"))
    valid = np.concatenate(_load(paths, "valid"))
    keys = np.concatenate([np.load(p["keys"], mmap_mode="r")[band] for p in paths])
    signatures = SignatureRows(paths)
    parent = np.arange(len(id_hash), dtype=np.int32)
    # Pairs already in one set are not checked again, so these count verifications done.
    stats = {"minhash:candidates_checked": 0, "minhash:verified_pairs": 0}
    min_equal = int(np.ceil(config.verify_jaccard * config.num_perm))
    edges = []
    for left, right in band_pairs(keys, id_hash, valid, config.bucket_window):
        for start in range(0, len(left), config.verify_chunk):
            a, b = left[start : start + config.verify_chunk], right[start : start + config.verify_chunk]
            apart = find_roots(parent, a) != find_roots(parent, b)
            a, b = a[apart], b[apart]
            verified = (signatures.take(a) == signatures.take(b)).sum(axis=1) >= min_equal
            a, b = a[verified], b[verified]
            edges.append(np.stack([a, b]).astype(np.int64))
            union(parent, a, b)
            stats["minhash:candidates_checked"] += len(verified)
            stats["minhash:verified_pairs"] += int(verified.sum())
    return np.concatenate(edges, axis=1) if edges else np.zeros((2, 0), np.int64), stats


def components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(members, roots): every document on an edge and the smallest member index of its cluster."""
    members, compact = np.unique(edges, return_inverse=True)
    compact = compact.reshape(edges.shape)
    parent = np.arange(len(members), dtype=np.int64)
    union(parent, compact[0], compact[1])
    # Compact indices keep the order of document indices, so the smallest compact root is the smallest member.
    return members, members[find_roots(parent, np.arange(len(members)))]
