"""MinHash signatures: the hashing settings, text -> signature, band keys, and the per-file signature arrays
of the minhash stage's first phase (stages/dedup/minhash.py has the stage and why its numbers are what they are)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import xxhash

from core.files import save_array
from stages.dedup.lsh import band_runs
from stages.tasks import my_share

WORD = re.compile(r"\w+")
MIX = np.uint64(0x9E3779B97F4A7C15)
MAX64 = np.uint64(0xFFFFFFFFFFFFFFFF)


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
    docs_per_band_task: int = (
        4_000_000  # documents per key range of a band: ~85 bytes each at a bands unit's peak
    )

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


def s_curve(jaccard: float, bands: int, rows: int) -> float:
    """Probability that two documents at this Jaccard share at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def mix64(x: np.ndarray) -> np.ndarray:
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
        self.a = rng.integers(
            0, 2**64, config.num_perm, dtype=np.uint64, endpoint=False
        ) | np.uint64(1)
        self.b = rng.integers(0, 2**64, config.num_perm, dtype=np.uint64, endpoint=False)
        self.weights = mix64(np.arange(1, self.ngram + 1, dtype=np.uint64) * MIX) | np.uint64(1)
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
        flat = np.fromiter(
            (h for doc in per_doc for h in doc), dtype=np.uint64, count=int(counts.sum())
        )
        shingles, doc_of_shingle = self._shingles(flat, counts)
        mins = np.full((len(texts), len(self.a)), MAX64, dtype=np.uint64)
        for start in range(0, len(shingles), self.chunk_rows):
            self._fold_min(
                mins,
                shingles[start : start + self.chunk_rows],
                doc_of_shingle[start : start + self.chunk_rows],
            )
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
        return mix64(combined[inside_one_doc]), doc_of_word[:starts][inside_one_doc]

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
            key = mix64(key ^ column.astype(np.uint64))
        keys[band] = key
    return keys


def signature_paths(work_dir: Path, input_path: Path, config: MinhashConfig) -> dict[str, Path]:
    """Where one input file's signature arrays go.

    The name carries the hashing settings and the input's size and mtime, so that signatures left
    by an interrupted run are reused only when they are still right.
    """
    stat = Path(input_path).stat()
    settings = (
        config.ngram,
        config.bands,
        config.rows,
        config.seed,
        stat.st_size,
        stat.st_mtime_ns,
    )
    stem = f"{Path(input_path).stem}.{xxhash.xxh3_64_hexdigest(repr(settings))}"
    return {
        part: Path(work_dir) / f"{stem}.{part}.npy"
        for part in ("signatures", "id_hash", "band_keys", "band_rows")
    }


def compute_signatures(
    inputs: list[Path], work_dir: Path, config: MinhashConfig, rank: int = 0, world_size: int = 1
) -> None:
    """Signatures for this task's share of the input files; files already done are skipped."""
    hasher = Hasher(config)
    for path in map(Path, my_share(inputs, rank, world_size)):
        paths = signature_paths(work_dir, path, config)
        if paths["band_rows"].exists():  # written last: the file is complete
            continue
        batches, valid, ids = [], [], []
        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=config.batch_docs, columns=["id", "text"]
        ):
            sig, has = hasher.signatures(batch.column("text").to_pylist())
            batches.append(sig)
            valid.append(has)
            ids.extend(batch.column("id").to_pylist())
        signatures = (
            np.concatenate(batches) if batches else np.zeros((0, config.num_perm), np.uint32)
        )
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        save_array(paths["signatures"], signatures)
        save_array(
            paths["id_hash"], np.array([xxhash.xxh3_64_intdigest(i) for i in ids], dtype=np.uint64)
        )
        keys, rows = band_runs(
            band_keys(signatures, config), np.concatenate(valid) if valid else np.zeros(0, bool)
        )
        save_array(paths["band_keys"], keys)
        save_array(paths["band_rows"], rows)
