"""Stages as executor tasks: every global stage is a few phases, each a datatrove step run as N tasks.

A phase's task ``rank`` of ``world_size`` owns a fixed share of the work (the input files
``rank::world_size``, a hash range, a band, a partition), reads only files earlier phases
finished, and writes its outputs atomically, so an executor (local, Ray, Slurm) can run the
tasks anywhere, in any order, and a killed run redoes only the tasks not marked complete.
Phases of one stage pass data through files under the stage's scratch directory. Counters are
the sum over tasks of what each task returns (datatrove's per-task stats on an executor).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from core.files import finished_files, write_json
from stages.memory import measured_task
from stages.writers import ParquetSink

# task(rank, world_size) -> counters
Task = Callable[[int, int], dict]


@dataclass
class Phase:
    name: str
    task: Task
    tasks: int


@dataclass
class StageDirs:
    """Where a stage reads and writes: its input work files, its kept output, removed/ and its scratch space."""

    inputs: Path
    out: Path
    removed: Path
    scratch: Path

    def input_files(self) -> list[Path]:
        return input_files(self.inputs)


def input_files(directory: Path) -> list[Path]:
    return finished_files(Path(directory), "*.parquet")


def my_share(items: list, rank: int, world_size: int) -> list:
    return sorted(items)[rank::world_size]


class TaskStep(PipelineStep):
    """One phase as a datatrove step: runs ``task(rank, world_size)`` and records its counters."""

    type = "🧮 TASK"

    def __init__(self, phase: Phase):
        self.name = (
            phase.name
        )  # before PipelineStep.__init__, which names the step's stats after it
        super().__init__()
        self.task = phase.task

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.track_time(), measured_task(self.name, rank):
            for label, value in self.task(rank, world_size).items():
                self.stat_update(label, value=int(value))
        yield from data or ()


def add_counters(total: dict, more: dict) -> dict:
    for label, value in more.items():
        total[label] = total.get(label, 0) + value
    return total


def run_inline(phases: list[Phase]) -> dict:
    """Every task of every phase in this process, in order (tests, benchmarks); returns the summed counters."""
    counters: dict = {}
    for phase in phases:
        for rank in range(phase.tasks):
            add_counters(counters, phase.task(rank, phase.tasks))
    return counters


def hash_range(hashes: pa.Array, ranges: int) -> np.ndarray:
    """The range (0..ranges-1) each uint64 hash falls in: ranges split the hash space into equal slices."""
    values = pc.fill_null(hashes, 0).to_numpy(zero_copy_only=False).astype(np.uint64)
    return ((values >> np.uint64(32)) * np.uint64(ranges)) >> np.uint64(32)


def key_ranges(documents: int, docs_per_range: int) -> int:
    """How many hash ranges a key space is split into, so that a range holds about ``docs_per_range`` documents."""
    return max(1, -(-int(documents) // docs_per_range))


DOCUMENTS = "documents.json"  # under a stage's scratch directory: its input's document count


def counting_phase(stage: str, dirs: StageDirs) -> Phase:
    """One task counts the stage's input documents from the files' footers, once, and writes the count for the
    phases after it (``hash_ranges``): a phase's task count is fixed before the corpus exists, so the count
    cannot come with the plan, and each task counting for itself reads every footer (tasks x files reads)."""

    def count(rank: int, world_size: int) -> dict:
        documents = sum(pq.read_metadata(p).num_rows for p in dirs.input_files())
        write_json(dirs.scratch / DOCUMENTS, {"documents": documents})
        return {}

    return Phase(f"{stage}/count", count, 1)


def hash_ranges(dirs: StageDirs, world_size: int, docs_per_range: int) -> int:
    """How many hash ranges a phase splits its keys into: one per task at least, more when the documents
    (as ``counting_phase`` counted them) need them; task ``rank`` then owns ranges ``rank, rank + world_size, ...``."""
    documents = json.loads((dirs.scratch / DOCUMENTS).read_text())["documents"]
    return max(world_size, key_ranges(documents, docs_per_range))


def range_start(r: int, ranges: int) -> int:
    """The smallest uint64 hash that ``hash_range`` puts in range ``r``: ranges are contiguous, so a sorted run
    of hashes splits into ranges by binary search on these starts."""
    return -(-(r << 32) // ranges) << 32


def write_by_range(
    table: pa.Table, hash_column: str, ranges: int, directory: Path, file_name: str
) -> None:
    """Split ``table`` by hash range of ``hash_column`` into ``<directory>/range=<r>/<file_name>``."""
    owner = hash_range(table[hash_column], ranges)
    for r in np.unique(owner):
        write_table(
            table.filter(pa.array(owner == r)), Path(directory) / f"range={int(r):05d}" / file_name
        )


def range_files(directory: Path, rank: int) -> list[Path]:
    return finished_files(Path(directory) / f"range={rank:05d}", "*.parquet")


def read_tables(directory: Path) -> pa.Table | None:
    """The finished Parquet files in ``directory`` as one table; None when there are none."""
    files = finished_files(Path(directory), "*.parquet")
    return pa.concat_tables(pq.read_table(p) for p in files) if files else None


def write_table(table: pa.Table, path: Path) -> None:
    with ParquetSink(path, table.schema) as sink:
        sink.write_table(table)
