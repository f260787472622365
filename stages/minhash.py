"""Fuzzy deduplication with MinHash LSH: a global stage after exact dedup.

Phases, each bounded in memory:
  1. signatures: per input file (a task of its own, see ``MinhashSignatures``), word n-gram
     shingles hashed to 64 bits and ``num_perm`` MinHash values per document, written as .npy
     under the scratch directory;
  2. banding (stages/lsh.py): per band, documents with equal band keys become candidate pairs,
     each pair is verified on its estimated Jaccard and folded into a union-find over doc indices;
  3. survivors: per cluster the document with the highest quality_score, then the longest, then
     the smallest id; ``dup_cluster = "fuzzy:<survivor id>"`` on every member;
  4. the file-by-file rewrite shared by all global stages.

Default banding (21 bands x 6 rows = 126 permutations), chosen on the S-curve
P(candidate | J) = 1 - (1 - J^rows)^bands: rows = 6 is the largest row count for which some band
count within 128 permutations reaches P(candidate | 0.8) >= 0.99, and 21 bands use all of the
128 we allow (P = 0.998 at J = 0.8, 0.99995 at 0.85, 0.28 at 0.5, 0.015 at 0.3). Candidates
below the target are cheap because verification throws them away; spare permutations make that
verification sharper. datatrove's 14 x 8 reaches only P = 0.92 at J = 0.8. ``s_curve`` prints it.

Verification uses the signature-estimated Jaccard, not the true one: the true one would need a
second read of every candidate's text with random access across files. With m = 126
permutations the estimate is Binomial(m, J)/m; merging at estimate >= 0.7 leaves a pair of true
J = 0.5 a probability of 2e-6 of being merged (binomial tail, 4.5 sigma), a pair of J = 0.85
one of 1e-5 of being missed, and one of J = 0.8 one of 0.4% (it usually joins its cluster
through another member anyway). A document can be removed only through a verified edge, so a document
whose nearest neighbour is below 0.5 stays unless that tail event happens.

Memory ceiling: the union-find holds 4 bytes per document (int32: 2^31 documents), one band
holds 24 bytes per document (keys, id hashes, order), and candidate pairs of one band are
verified in chunks of ``verify_chunk`` pairs; signatures stay on disk (4 x num_perm bytes per
document) and are read through a memory map. 1M documents: ~0.5 GB of signatures on disk,
well under 1 GB resident.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from stages.files import atomic_path
from stages.lsh import connected_components
from stages.writers import rewrite_work_files, split_removed

STAGE = "minhash"
REASON = "near_duplicate"
WORD = re.compile(r"\w+")
MIX = np.uint64(0x9E3779B97F4A7C15)
MAX64 = np.uint64(0xFFFFFFFFFFFFFFFF)

# progress(phase, done, total): called as long phases advance, so a caller can show an ETA.
Progress = Callable[[str, int, int], None]


@dataclass
class MinhashConfig:
    enabled: bool = True
    ngram: int = 5  # words per shingle
    bands: int = 21
    rows: int = 6  # permutations per band; bands * rows permutations in all
    verify_jaccard: float = 0.7  # estimated Jaccard a candidate pair needs to be merged
    bucket_window: int = 32  # in a band bucket, each document is paired with this many next ones
    seed: int = 1
    batch_docs: int = 1024  # documents hashed together
    verify_chunk: int = 200_000  # candidate pairs verified at once

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


def s_curve(jaccard: float, bands: int, rows: int) -> float:
    """Probability that two documents at this Jaccard share at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the whole word."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class Hasher:
    """Text -> MinHash signature, vectorized over a batch of documents.

    Each word is hashed once (xxh3), an n-gram is a mixed polynomial of its word hashes, and
    permutation p maps a shingle hash x to ``(a_p * x + b_p) mod 2^64`` (multiply-shift, a
    universal family with no division); the signature keeps the top 32 bits of each minimum.
    """

    def __init__(self, config: MinhashConfig):
        self.ngram = config.ngram
        rng = np.random.Generator(np.random.PCG64(config.seed))
        self.a = rng.integers(0, 2**64, config.num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
        self.b = rng.integers(0, 2**64, config.num_perm, dtype=np.uint64, endpoint=False)
        self.weights = _mix64(np.arange(1, self.ngram + 1, dtype=np.uint64) * MIX) | np.uint64(1)
        self.chunk_rows = max(1, (4 << 20) // (8 * config.num_perm))  # ~4 MB of products at a time

    def word_hashes(self, text: str) -> list[int]:
        hashes = [xxhash.xxh3_64_intdigest(w) for w in words(text)]
        if 0 < len(hashes) < self.ngram:  # pad so that a short document is one shingle
            hashes += [0] * (self.ngram - len(hashes))
        return hashes

    def signatures(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(signatures uint32 [docs, num_perm], has_shingles bool [docs])."""
        per_doc = [self.word_hashes(t) for t in texts]
        counts = np.array([len(h) for h in per_doc], dtype=np.int64)
        flat = np.fromiter((h for doc in per_doc for h in doc), dtype=np.uint64, count=int(counts.sum()))
        shingles, doc_of_shingle = self._shingles(flat, counts)
        mins = np.full((len(texts), len(self.a)), MAX64, dtype=np.uint64)
        for start in range(0, len(shingles), self.chunk_rows):
            self._fold_min(mins, shingles[start : start + self.chunk_rows], doc_of_shingle[start : start + self.chunk_rows])
        return (mins >> np.uint64(32)).astype(np.uint32), counts > 0

    def _shingles(self, flat: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.ngram
        doc_of_word = np.repeat(np.arange(len(counts)), counts)
        if len(flat) < n:
            return flat[:0], doc_of_word[:0]
        starts = len(flat) - n + 1
        combined = np.zeros(starts, dtype=np.uint64)
        for k in range(n):
            combined += flat[k : k + starts] * self.weights[k]
        inside_one_doc = doc_of_word[:starts] == doc_of_word[n - 1 :]
        return _mix64(combined[inside_one_doc]), doc_of_word[:starts][inside_one_doc]

    def _fold_min(self, mins: np.ndarray, shingles: np.ndarray, doc_of_shingle: np.ndarray) -> None:
        products = np.multiply.outer(shingles, self.a)
        products += self.b
        firsts = np.flatnonzero(np.r_[True, doc_of_shingle[1:] != doc_of_shingle[:-1]])
        docs = doc_of_shingle[firsts]
        mins[docs] = np.minimum(mins[docs], np.minimum.reduceat(products, firsts, axis=0))


def band_keys(signatures: np.ndarray, config: MinhashConfig) -> np.ndarray:
    """One 64-bit key per (band, document): [bands, docs]."""
    keys = np.empty((config.bands, len(signatures)), dtype=np.uint64)
    for band in range(config.bands):
        key = np.full(len(signatures), (band + 1) * int(MIX) % 2**64, dtype=np.uint64)
        for column in signatures[:, band * config.rows : (band + 1) * config.rows].T:
            key = _mix64(key ^ column.astype(np.uint64))
        keys[band] = key
    return keys


def signature_paths(work_dir: Path, input_path: Path, config: MinhashConfig) -> dict[str, Path]:
    """Where one input file's signature arrays go.

    The name carries the hashing settings and the input's size and mtime, so that signatures left
    by an interrupted run are reused only when they are still right.
    """
    stat = Path(input_path).stat()
    settings = (config.ngram, config.bands, config.rows, config.seed, stat.st_size, stat.st_mtime_ns)
    stem = f"{Path(input_path).stem}.{xxhash.xxh3_64_hexdigest(repr(settings))}"
    return {part: Path(work_dir) / f"{stem}.{part}.npy" for part in ("signatures", "keys", "id_hash", "valid")}


def _save_atomic(path: Path, array: np.ndarray) -> None:
    # Through a handle: np.save given a name would append ".npy" to the temp name.
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


def compute_signatures(
    inputs: list[Path], work_dir: Path, config: MinhashConfig, rank: int = 0, world_size: int = 1,
    progress: Optional[Progress] = None,
) -> None:
    """Signatures for this task's share of the input files; files already done are skipped."""
    hasher = Hasher(config)
    mine = [Path(p) for p in sorted(inputs)[rank::world_size]]
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in mine)
    done = 0
    for path in mine:
        paths = signature_paths(work_dir, path, config)
        if paths["valid"].exists():  # written last: the file is complete
            done += pq.ParquetFile(path).metadata.num_rows
            continue
        signatures, valid, ids = [], [], []
        for batch in pq.ParquetFile(path).iter_batches(batch_size=config.batch_docs, columns=["id", "text"]):
            sig, has = hasher.signatures(batch.column("text").to_pylist())
            signatures.append(sig)
            valid.append(has)
            ids.extend(batch.column("id").to_pylist())
            done += batch.num_rows
            if progress:
                progress("signatures", done, total)
        signatures = np.concatenate(signatures) if signatures else np.zeros((0, config.num_perm), np.uint32)
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        _save_atomic(paths["signatures"], signatures)
        _save_atomic(paths["keys"], band_keys(signatures, config))
        _save_atomic(paths["id_hash"], np.array([xxhash.xxh3_64_intdigest(i) for i in ids], dtype=np.uint64))
        _save_atomic(paths["valid"], np.concatenate(valid) if valid else np.zeros(0, bool))


class MinhashSignatures(PipelineStep):
    """Phase 1 as a datatrove step, so an executor can spread the input files over its tasks."""

    name = "minhash signatures"
    type = "🫂 DEDUP"

    def __init__(self, inputs: list[str], work_dir: str, config: MinhashConfig):
        super().__init__()
        self.inputs = [Path(p) for p in inputs]
        self.work_dir = Path(work_dir)
        self.config = config

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.track_time():
            compute_signatures(self.inputs, self.work_dir, self.config, rank, world_size)
        yield from data or ()


def survivors(inputs: list[Path], roots: np.ndarray) -> pa.Table:
    """Per clustered document: id, dup_cluster and whether it is removed."""
    sizes = np.bincount(roots, minlength=len(roots))
    clustered = sizes[roots] > 1
    parts, offset = [], 0
    for path in inputs:
        table = pq.read_table(path, columns=["id", "quality_score", "n_chars"])
        rows = np.flatnonzero(clustered[offset : offset + table.num_rows])
        parts.append(table.take(rows).append_column("root", pa.array(roots[offset + rows])))
        offset += table.num_rows
    members = pa.concat_tables(parts).sort_by(
        [("root", "ascending"), ("quality_score", "descending"), ("n_chars", "descending"), ("id", "ascending")]
    )
    root = members.column("root").to_numpy()
    first = np.diff(root, prepend=-1) != 0
    survivor_ids = np.asarray(members.column("id").to_pylist(), dtype=object)[np.flatnonzero(first)]
    cluster = survivor_ids[np.cumsum(first) - 1]
    return pa.table({
        "id": members.column("id"),
        "fuzzy_cluster": pa.array(["fuzzy:" + s for s in cluster], pa.string()),
        "fuzzy_removed": pa.array(~first),
    })


def mark_near_duplicates(table: pa.Table, members: pa.Table) -> tuple[pa.Table, pa.Table]:
    joined = table.join(members, "id", join_type="left outer")
    # A fuzzy cluster replaces an exact one: the exact group's survivor is a member of it, and its
    # removed copies keep "exact:<id>" in removed/, so the chain can still be followed.
    cluster = pc.coalesce(joined["fuzzy_cluster"], joined["dup_cluster"])
    joined = joined.set_column(joined.schema.get_field_index("dup_cluster"), "dup_cluster", cluster)
    return split_removed(joined, pc.fill_null(joined["fuzzy_removed"], False), table.column_names, REASON)


def run_minhash(
    inputs: list[Path], out_dir: Path, removed_dir: Path, config: MinhashConfig, work_dir: Path,
    progress: Optional[Progress] = None,
) -> dict[str, int]:
    """The whole stage. ``work_dir`` is scratch space for signatures, removed at the end."""
    inputs = sorted(Path(p) for p in inputs)
    compute_signatures(inputs, work_dir, config, progress=progress)
    roots, stats = connected_components([signature_paths(work_dir, p, config) for p in inputs], config, progress)
    members = survivors(inputs, roots)
    counters = rewrite_work_files(inputs, out_dir, removed_dir, STAGE, lambda t: mark_near_duplicates(t, members))
    shutil.rmtree(work_dir, ignore_errors=True)
    return dict(counters, **stats)
