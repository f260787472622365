"""The quality model's training examples: what a fastText model sees of a document, and the bottom-k
sample per class that sample tasks take of their share of the candidate files and the model task merges.

``BottomKSample`` keeps the ``k`` documents of smallest seeded hash, so the sample of a stream is the same
whatever order it comes in or how it is split into files and tasks, and the smallest hashes of the parts
are the smallest of the whole: a task's sample is saved in hash order (``write_sample``) and
``merged_sample`` reads every sample's hashes but, of each, only the rows up to the ``k``-th smallest.
"""

from __future__ import annotations

import bisect
import glob
import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.files import atomic_path, finished_files
from stages.tasks import my_share


class SampleSettings(Protocol):
    """What sampling reads of ``stages.quality.scoring.QualityConfig`` (which imports this module)."""

    max_per_class: int
    seed: int
    max_chars: int
    positives: list[str]
    negatives: list[str]
    negative_paths: list[str]
    negative_stages: list[str]


# A task's sample is read back in row groups this small, so merging reads little past the rows it keeps.
SAMPLE_GROUP_ROWS = 256


def model_input(text: str, max_chars: int) -> str:
    """What a fastText model sees of a document: at most ``max_chars`` of it as one lowercased,
    whitespace-collapsed line (fastText reads a document per line). Only the first ``2 * max_chars``
    characters are collapsed, so a huge document costs no more than a short one."""
    return " ".join(text[: max_chars * 2].lower().split())[:max_chars]


class BottomKSample:
    """A uniform random sample of at most ``k`` documents of a stream that is the same whatever order the
    stream comes in or how it is split into files: the ``k`` whose seeded hash is smallest. The hash is of a
    document's first ``2 * max_chars`` characters (all that its model input depends on), so identical inputs
    are interchangeable. It holds only the ``k`` model inputs, and counts every document offered."""

    def __init__(self, k: int, seed: int, max_chars: int):
        self.k, self.max_chars, self.salt = k, max_chars, str(seed).encode()
        self.heap: list[
            tuple[int, str]
        ] = []  # (-hash, model input): the largest hash kept is on top
        self.seen = 0

    def __len__(self) -> int:
        return len(self.heap)

    def extend(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.seen += 1
            prefix = text[: 2 * self.max_chars]
            rank = -int.from_bytes(
                hashlib.blake2b(prefix.encode(), digest_size=16, key=self.salt).digest(), "big"
            )
            if len(self.heap) < self.k or rank > self.heap[0][0]:
                self.add(rank, model_input(prefix, self.max_chars))

    def add(self, rank: int, model_text: str) -> None:
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, (rank, model_text))
        elif rank > self.heap[0][0]:
            heapq.heapreplace(self.heap, (rank, model_text))

    def first(self, n: int) -> list[str]:
        """The model inputs of the ``n`` documents of smallest hash, in hash order."""
        return [text for _, text in sorted(self.heap, reverse=True)[:n]]

    def to_table(self) -> pa.Table:
        """The sample in hash order: ``hash`` (16 bytes big-endian, so byte order is number order) and ``input``,
        with ``seen`` in the schema's metadata."""
        ranked = sorted(self.heap, reverse=True)
        table = pa.table(
            {
                "hash": pa.array(
                    [(-rank).to_bytes(16, "big") for rank, _ in ranked], pa.binary(16)
                ),
                "input": pa.array([text for _, text in ranked], pa.string()),
            }
        )
        return table.replace_schema_metadata({"seen": str(self.seen)})


def merged_sample(paths: list[Path], config: SampleSettings) -> BottomKSample:
    """The sample of all the streams whose samples (``BottomKSample.to_table``) are at ``paths``: the smallest
    hashes among theirs are the smallest of the union. Only the hashes are read whole; of each file, only the rows
    up to the ``k``-th smallest hash of them all, a row group at a time."""
    sample = new_sample(config)
    hashes = [pq.read_table(p, columns=["hash"])["hash"].to_pylist() for p in paths]
    everything = sorted(h for column in hashes for h in column)
    bound = everything[min(sample.k, len(everything)) - 1] if everything else b""
    for path, column in zip(paths, hashes):
        wanted = bisect.bisect_right(column, bound)
        file = pq.ParquetFile(path)
        sample.seen += int(file.schema_arrow.metadata[b"seen"])
        for batch in file.iter_batches(batch_size=SAMPLE_GROUP_ROWS, columns=["hash", "input"]):
            if wanted <= 0:
                break
            for digest, text in zip(
                batch["hash"].to_pylist()[:wanted], batch["input"].to_pylist()[:wanted]
            ):
                sample.add(-int.from_bytes(digest, "big"), text)
            wanted -= batch.num_rows
    return sample


def write_sample(sample: BottomKSample, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(sample.to_table(), tmp, row_group_size=SAMPLE_GROUP_ROWS)


def jsonl_texts(patterns: list[str]) -> Iterator[str]:
    for path in sorted(p for pattern in patterns for p in glob.glob(pattern)):
        with open(path, encoding="utf-8") as handle:
            yield from (json.loads(line)["text"] for line in handle if line.strip())


def parquet_texts(
    paths: list[Path], sources: list[str] | None = None, batch_size: int = 1024
) -> Iterator[str]:
    """The texts of ``paths`` (of ``sources`` only, when given), a batch of rows in memory at a time."""
    wanted = None if sources is None else pa.array(sources, pa.string())
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=batch_size, columns=["text", "source"]
        ):
            if wanted is not None:
                batch = batch.filter(pc.is_in(batch.column("source"), wanted))
            yield from batch.column("text").to_pylist()


def new_sample(config: SampleSettings) -> BottomKSample:
    return BottomKSample(config.max_per_class, config.seed, config.max_chars)


def sample_sources(
    inputs: list[Path], removed_dir: Path, config: SampleSettings
) -> dict[str, list[tuple[str, str]]]:
    """What each sample reads, as (kind, path) items the sample tasks share: this run's positives, the negative
    files (the default model's negatives too) and this run's negatives."""
    run_files = [("run", str(p)) for p in inputs]
    removed = [
        ("removed", str(p))
        for s in config.negative_stages
        for p in finished_files(Path(removed_dir) / f"stage={s}", "*.parquet")
    ]
    return {
        "positive": run_files if config.positives else [],
        "negative-files": [
            ("jsonl", p) for pattern in config.negative_paths for p in sorted(glob.glob(pattern))
        ],
        "negative-run": (run_files if config.negatives else []) + removed,
    }


def item_texts(kind: str, path: str, sources: list[str]) -> Iterator[str]:
    if kind == "jsonl":
        return jsonl_texts([path])
    return parquet_texts([Path(path)], sources if kind == "run" else None)


def write_samples(
    inputs: list[Path],
    removed_dir: Path,
    samples_dir: Path,
    config: SampleSettings,
    rank: int,
    world_size: int,
) -> None:
    """Task ``rank``'s share of every sample's items, sampled: ``<samples_dir>/<sample>-<rank>.parquet``."""
    for name, items in sample_sources(inputs, removed_dir, config).items():
        sample = new_sample(config)
        for kind, path in my_share(items, rank, world_size):
            sample.extend(
                item_texts(kind, path, config.positives if name == "positive" else config.negatives)
            )
        write_sample(sample, Path(samples_dir) / f"{name}-{rank:05d}.parquet")
