"""Rewriting work files a bounded batch at a time: what every stage that changes or removes documents does last.

A rewrite reads its file ``BATCH_BYTES`` at a time (``work_batches``), transforms each batch and writes its kept
rows to the stage's output and its removed rows to removed/, each in id order and in row groups that depend on
the rows alone (``GroupedSink``). A file already in id order (every stage's output is) goes straight through; one
that is not (ingest writes in reading order) has each batch's rows written as a sorted run under the stage's
scratch directory and merged, a row group of each run at a time (``stages.sorted_runs``). So a rewrite task holds
about one batch and a row group of each run, never a work file (128 MiB of text: 0.74-0.88 GiB when it held one).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stages.schema import REMOVED_SCHEMA, WORK_SCHEMA
from stages.sorted_runs import Run, fewer_runs, merged_batches, write_run
from stages.tasks import StageDirs
from stages.writers import GroupedSink

BATCH_BYTES = (
    16 * 2**20
)  # what a rewrite transforms at a time, and the text in a row group of what it writes
READ_ROWS = (
    1024  # rows Parquet decodes at a time, so that a batch passes BATCH_BYTES by at most this many
)

# transform(batch) -> (kept, removed): ``kept`` has the work schema, ``removed`` has it plus a ``reason`` column
# (or is None for a stage that removes nothing); a stage makes one per input file (``transform_for``).
Transform = Callable[[pa.Table], tuple[pa.Table, pa.Table | None]]


def work_batches(path: Path, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """A work file's rows in order, as tables of about ``BATCH_BYTES`` with the work schema's types."""
    names = columns or WORK_SCHEMA.names
    schema = pa.schema([WORK_SCHEMA.field(name) for name in names])
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_ROWS, columns=names):
        pending.append(batch)
        held += batch.nbytes
        if held >= BATCH_BYTES:
            yield pa.Table.from_batches(pending).cast(schema)
            pending, held = [], 0
    if pending:
        yield pa.Table.from_batches(pending).cast(schema)


def ids_ascending(path: Path) -> bool:
    """Whether a work file's rows are in id order, read from its id column alone."""
    last = None
    for batch in pq.ParquetFile(path).iter_batches(batch_size=64 * READ_ROWS, columns=["id"]):
        ids = batch.column(0)
        if len(ids) == 0:
            continue
        if last is not None and ids[0].as_py() < last:
            return False
        if len(ids) > 1 and pc.any(pc.less(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py():
            return False
        last = ids[-1].as_py()
    return True


class SortedOutput:
    """One output file in id order from tables that are each sorted by id: written straight through when the
    tables come in order (``in_order``), else as sorted runs under ``scratch`` merged on ``close``. A single table
    is always in order, so a file of one batch never makes a run."""

    def __init__(self, path: Path, schema: pa.Schema, in_order: bool, scratch: Path):
        self.sink = GroupedSink(path, schema, BATCH_BYTES)
        self.schema, self.in_order, self.scratch = schema, in_order, scratch
        self.held: pa.Table | None = None  # the first table, until a second shows it needs runs
        self.runs: list[Run] = []

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        table = table.select(self.schema.names).cast(self.schema)
        if self.in_order:
            self.sink.write(table)
        elif self.held is None and not self.runs:
            self.held = table
        else:
            if self.held is not None:
                self._spill(self.held)
                self.held = None
            self._spill(table)

    def _spill(self, table: pa.Table) -> None:
        self.runs.append(Run(self.scratch / f"run-{len(self.runs):05d}.parquet"))
        write_run([table], self.runs[-1].path, self.schema)

    def close(self) -> None:
        if self.held is not None:
            self.sink.write(self.held)
        if self.runs:
            runs = fewer_runs(self.runs, self.scratch / "passes", schema=self.schema)
            for table in merged_batches(runs, schema=self.schema):
                self.sink.write(table)
        self.sink.close()

    def __enter__(self) -> SortedOutput:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.sink.__exit__(exc_type, exc, tb)


def rewrite_work_files(
    inputs: list[Path], dirs: StageDirs, stage: str, transform_for: Callable[[Path], Transform]
) -> dict[str, int]:
    """Rewrite work files one by one, a batch at a time: kept rows go to ``dirs.out`` under the input's file
    name, removed rows to ``removed/stage=<stage>/``. Returns the counters ``kept`` and ``removed:<reason>``."""
    counters: dict[str, int] = {"kept": 0}
    for path in inputs:
        transform, scratch = transform_for(path), dirs.scratch / "rewrite" / path.stem
        shutil.rmtree(scratch, ignore_errors=True)  # a killed task starts its file over
        in_order = ids_ascending(path)
        with (
            SortedOutput(
                Path(dirs.out) / path.name, WORK_SCHEMA, in_order, scratch / "kept"
            ) as kept_out,
            SortedOutput(
                Path(dirs.removed) / f"stage={stage}" / path.name,
                REMOVED_SCHEMA,
                in_order,
                scratch / "removed",
            ) as removed_out,
        ):
            for batch in work_batches(path):
                kept, removed = transform(batch)
                kept_out.write(kept.sort_by("id"))
                counters["kept"] += kept.num_rows
                if removed is not None and removed.num_rows:
                    for reason, count in zip(*_value_counts(removed.column("reason"))):
                        counters[f"removed:{reason}"] = counters.get(f"removed:{reason}", 0) + count
                    removed_out.write(removed_rows(removed, stage).sort_by("id"))
        shutil.rmtree(scratch, ignore_errors=True)
    return counters


def removed_rows(table: pa.Table, stage: str) -> pa.Table:
    """Removed rows with the removed schema: the stage's name, and nulls in the columns only some stages fill
    (such as survivor_similarity)."""
    table = with_constant(table, "stage", stage)
    for name in REMOVED_SCHEMA.names:
        if name not in table.column_names:
            table = table.append_column(
                name, pa.nulls(table.num_rows, REMOVED_SCHEMA.field(name).type)
            )
    return table.select(REMOVED_SCHEMA.names).cast(REMOVED_SCHEMA)


def split_removed(
    table: pa.Table, removed: pa.Array, columns: list[str], reason: str
) -> tuple[pa.Table, pa.Table]:
    """A ``Transform`` result: rows where ``removed`` is false are kept, the others are removed for ``reason``;
    both keep only ``columns``."""
    kept = table.filter(pc.invert(removed)).select(columns)
    return kept, with_constant(table.filter(removed).select(columns), "reason", reason)


def with_constant(table: pa.Table, name: str, value: str) -> pa.Table:
    return table.append_column(name, pa.array([value] * table.num_rows, pa.string()))


def _value_counts(column: pa.ChunkedArray) -> tuple[list, list]:
    counts = column.value_counts()
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()
