"""LSH banding, candidate verification and connected components for MinHash dedup.

The work of one band is split by key range: all members of a bucket share their band key, so a
task that owns the keys of one range of one band sees whole buckets, and forms exactly the
candidate pairs a single task over the whole band would. Each input file's signature task leaves
its band keys as sorted runs (``band_runs``), so a range task reads its slice of every file by
binary search (``band_slice``) instead of scanning the band.

A range task never collects its candidate pairs for the whole slice: the documents are sorted by
(band key, id hash, document index), each is paired with the next ``bucket_window`` documents of
its bucket, the pairs are verified against the signatures in chunks and folded into the task's
union-find at once, and only the pairs that joined two sets are kept as edges (at most one per
document per band, give or take pairs verified in one chunk). The union-find is over the slice's
positions, so it too is sized by the slice, not the corpus. The clustering task then runs a
union-find over the edges of all bands alone, so its memory grows with the number of duplicates,
not of documents. Sorting by id hash (not file position) makes the pairs, hence the clusters,
independent of how the input is split into files.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np

from stages.tasks import range_start


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
        low, high = (
            np.minimum(left_root[apart], right_root[apart]),
            np.maximum(left_root[apart], right_root[apart]),
        )
        np.minimum.at(parent, high, low)
        parent[:] = parent[parent]


class SignatureRows:
    """Signature rows by global document index, read through memory maps of the per-file arrays."""

    def __init__(self, paths: list[dict[str, Path]]):
        self.arrays = [np.load(p["signatures"], mmap_mode="r") for p in paths]
        self.offsets = np.cumsum([0] + [len(a) for a in self.arrays])

    def take(self, index: np.ndarray) -> np.ndarray:
        out = np.empty((len(index), self.arrays[0].shape[1]), dtype=np.uint32)
        file_of = np.searchsorted(self.offsets, index, side="right") - 1
        for f in np.unique(file_of):
            mask = file_of == f
            out[mask] = self.arrays[f][index[mask] - self.offsets[f]]
            # Pages read through a map stay in the task's RSS until it unmaps them: over a task, the whole
            # corpus's signatures at worst. Dropped here, they stay in the page cache for the next read.
            self.arrays[f].base.madvise(mmap.MADV_DONTNEED)
        return out


def band_runs(keys: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One file's [bands, docs] band keys as sorted runs over its valid documents: (keys ascending, their rows),
    each [bands, valid docs]. A stable sort keeps equal keys in row order."""
    rows = np.flatnonzero(valid).astype(np.int32)
    valid_keys = keys[:, rows]
    order = np.argsort(valid_keys, axis=1, kind="stable")
    return np.take_along_axis(valid_keys, order, axis=1), rows[order]


def band_slice(
    paths: list[dict[str, Path]], offsets: np.ndarray, band: int, key_range: int, ranges: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keys, id hashes, document indices) of the valid documents whose key in ``band`` falls in ``key_range``."""
    low = np.uint64(range_start(key_range, ranges))
    parts = [(np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64))]
    for path, offset in zip(paths, offsets):
        keys = np.load(path["band_keys"], mmap_mode="r")[band]
        start = np.searchsorted(keys, low)
        stop = (
            np.searchsorted(keys, np.uint64(range_start(key_range + 1, ranges)))
            if key_range + 1 < ranges
            else len(keys)
        )
        rows = np.load(path["band_rows"], mmap_mode="r")[band, start:stop]
        parts.append(
            (keys[start:stop], np.load(path["id_hash"], mmap_mode="r")[rows], rows + offset)
        )
    keys, id_hashes, rows = (np.concatenate([part[i] for part in parts]) for i in range(3))
    return keys, id_hashes, rows


def sorted_slice(
    keys: np.ndarray, id_hash: np.ndarray, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(keys, document indices) in (key, id hash, index) order: buckets are runs of equal keys, each in id-hash order."""
    order = np.lexsort((index, id_hash, keys))
    return keys[order], index[order]


def band_pairs(sorted_keys: np.ndarray, window: int):
    """Candidate pairs (left, right) as positions in key order, one offset at a time."""
    for offset in range(1, window + 1):
        same = np.flatnonzero(sorted_keys[:-offset] == sorted_keys[offset:])
        if not len(same):
            return
        yield same, same + offset


def band_edges(
    keys: np.ndarray, id_hash: np.ndarray, index: np.ndarray, signatures: SignatureRows, config
) -> tuple[np.ndarray, dict[str, int]]:
    """The verified pairs of one band slice not yet in one set when checked, as a [2, edges] array of document
    indices, and counters."""
    keys, index = sorted_slice(keys, id_hash, index)
    parent = np.arange(len(index), dtype=np.int32)  # over positions in the slice
    # Pairs already in one set are not checked again, so these count verifications done.
    stats = {"minhash:candidates_checked": 0, "minhash:verified_pairs": 0}
    min_equal = int(np.ceil(config.verify_jaccard * config.num_perm))
    edges = []
    for left, right in band_pairs(keys, config.bucket_window):
        for start in range(0, len(left), config.verify_chunk):
            a, b = (
                left[start : start + config.verify_chunk],
                right[start : start + config.verify_chunk],
            )
            apart = find_roots(parent, a) != find_roots(parent, b)
            a, b = a[apart], b[apart]
            verified = (signatures.take(index[a]) == signatures.take(index[b])).sum(
                axis=1
            ) >= min_equal
            a, b = a[verified], b[verified]
            edges.append(np.stack([index[a], index[b]]).astype(np.int64))
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
