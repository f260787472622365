"""Sorted runs and their merge: Parquet files of rows sorted by id, read a row group at a time and merged
in (id, run) order, through intermediate runs when there are more than ``MERGE_FAN_IN`` (stages/shards.py
builds the shards' phases on them)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stages.schema import SHARD_SCHEMA
from stages.writers import ParquetSink

RUN_GROUP_BYTES = 4 * 1024 * 1024
MERGE_FAN_IN = 32


def write_run(tables: Iterable[pa.Table], path: Path, schema: pa.Schema = SHARD_SCHEMA) -> None:
    """A sorted run (the tables in order) in row groups of about RUN_GROUP_BYTES, so a merge reads it in small steps."""
    with ParquetSink(path, schema, row_group_bytes=RUN_GROUP_BYTES) as sink:
        for table in tables:
            sink.write_table(table)


@dataclass(frozen=True)
class Run:
    """Rows ``start`` to ``stop`` of a sorted run file (``stop`` None: to its end)."""

    path: Path
    start: int = 0
    stop: int | None = None


def row_groups(run: Run, columns: list[str]) -> Iterator[pa.Table]:
    """The run's rows a row group at a time, opening the file for each one so that a merge of thousands of
    runs does not hold thousands of files open."""
    meta = pq.read_metadata(run.path)
    stop = meta.num_rows if run.stop is None else run.stop
    first = 0
    for i in range(meta.num_row_groups):
        last = first + meta.row_group(i).num_rows
        if first < stop and last > run.start:
            with pq.ParquetFile(run.path, metadata=meta) as file:
                group = file.read_row_group(i, columns=columns)
            yield group.slice(max(run.start - first, 0), min(stop, last) - max(run.start, first))
        first = last


class SortedRun:
    """A run read a row group at a time; ``head`` holds the rows read and not yet merged. ``tag``: a ``run``
    column with this number is added to its rows, so a merge of them says which run each row came from."""

    def __init__(self, run: Run, schema: pa.Schema, tag: int | None = None):
        self.schema = schema
        columns = schema.names
        self.groups = row_groups(run, columns)
        self.tag = tag
        self.head = pa.Table.from_batches([], schema=self.schema)

    def fill(self) -> bool:
        """Read the next row group into the empty head; False when the run is spent."""
        group = next(self.groups, None)
        if group is None:
            return False
        self.head = group.cast(self.schema)
        if self.tag is not None:
            self.head = self.head.append_column(
                "run", pa.array(np.full(group.num_rows, self.tag, np.int32))
            )
        return self.head.num_rows > 0 or self.fill()

    def first(self) -> str:
        return self.head["id"][0].as_py()

    def last(self) -> str:
        return self.head["id"][-1].as_py()

    def take(self, bound: str, inclusive: bool) -> pa.Table:
        """The head rows with id < bound, or <= bound (a prefix, since the run is sorted)."""
        below = (pc.less_equal if inclusive else pc.less)(self.head["id"], bound)
        n = int(pc.sum(below).as_py() or 0)
        taken, self.head = self.head.slice(0, n), self.head.slice(n)
        return taken


def merged_batches(
    runs: list[Run],
    columns: list[str] | None = None,
    tagged: bool = False,
    schema: pa.Schema = SHARD_SCHEMA,
):
    """The rows of sorted runs in (id, run) order, a table at a time: rows with equal ids keep the order of their runs.
    ``columns``: those of ``schema`` to read (all when None).

    Each round's bound is the smallest (last id of its head, run number) among the runs, and every run gives
    the rows that come before it in that order: no row still unread can. The bound's run empties its head,
    which is read again; the runs that give rows are found by a heap of their heads' first rows, so a round
    costs the runs it takes from, not all of them (a partition's runs, one per input file, can be thousands).
    """
    read = pa.schema([schema.field(name) for name in columns or schema.names])
    sorted_runs = [SortedRun(run, read, k if tagged else None) for k, run in enumerate(runs)]
    live = [k for k, run in enumerate(sorted_runs) if run.fill()]
    by_last = [(sorted_runs[k].last(), k) for k in live]
    by_first = [(sorted_runs[k].first(), k) for k in live]
    heapq.heapify(by_last)
    heapq.heapify(by_first)
    while by_last:
        bound = heapq.heappop(by_last)
        giving = []
        while by_first and by_first[0] <= bound:
            giving.append(heapq.heappop(by_first)[1])
        giving.sort()
        yield pa.concat_tables(
            [sorted_runs[k].take(bound[0], k <= bound[1]) for k in giving]
        ).sort_by("id")
        for k in giving:
            if sorted_runs[k].head.num_rows:
                heapq.heappush(by_first, (sorted_runs[k].first(), k))
            elif sorted_runs[k].fill():  # only the bound's run empties
                heapq.heappush(by_first, (sorted_runs[k].first(), k))
                heapq.heappush(by_last, (sorted_runs[k].last(), k))


def fewer_runs(
    runs: list[Run], scratch: Path, fan_in: int = MERGE_FAN_IN, schema: pa.Schema = SHARD_SCHEMA
) -> list[Run]:
    """Merge consecutive groups of ``fan_in`` runs into intermediate runs under ``scratch`` until at most
    ``fan_in`` runs are left; returns them in order."""
    level = 0
    while len(runs) > fan_in:
        merged = []
        for start in range(0, len(runs), fan_in):
            merged.append(
                Run(Path(scratch) / f"level-{level}" / f"run-{start // fan_in:06d}.parquet")
            )
            write_run(
                merged_batches(runs[start : start + fan_in], schema=schema), merged[-1].path, schema
            )
        runs, level = merged, level + 1
    return runs
