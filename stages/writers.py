"""Parquet output shared by all stages: batched, zstd, atomic (temp file, then rename)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from core.files import temp_path
from stages.base import REMOVED_KEY
from stages.memory import measured_task
from stages.schema import REMOVED_SCHEMA, WORK_SCHEMA, document_row

ROW_GROUP_BYTES = 128 * 1024 * 1024


class ParquetSink:
    """Appends rows to one Parquet file that appears under its final name only on ``close``.

    No file is written when no row arrives, so empty partitions never exist.
    """

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        batch_rows: int = 2048,
        row_group_bytes: int = ROW_GROUP_BYTES,
    ):
        self.path = Path(path)
        self.schema = schema
        self.batch_rows = batch_rows
        self.row_group_bytes = row_group_bytes
        self.rows: list[dict] = []
        self.writer: pq.ParquetWriter | None = None
        self.tmp = temp_path(self.path)
        self.count = 0

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= self.batch_rows:
            self._flush()

    def write_table(self, table: pa.Table, one_row_group: bool = False) -> None:
        """``one_row_group``: the table becomes exactly one row group, for callers that choose the groups themselves."""
        self._flush()
        if table.num_rows:
            rows = table.num_rows if one_row_group else self._row_group_rows(table)
            self._open().write_table(
                table.select(self.schema.names).cast(self.schema), row_group_size=rows
            )
            self.count += table.num_rows

    def _open(self) -> pq.ParquetWriter:
        if self.writer is None:
            self.tmp.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")
        return self.writer

    def _flush(self) -> None:
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=self.schema)
            self._open().write_table(table, row_group_size=self._row_group_rows(table))
            self.rows = []

    def close(self) -> None:
        self._flush()
        if self.writer is not None:
            self.writer.close()
            os.replace(self.tmp, self.path)

    def _row_group_rows(self, table: pa.Table) -> int:
        """Rows per row group so that a group holds about ``row_group_bytes`` of data."""
        avg = max(1, table.nbytes // max(1, table.num_rows))
        return max(1, self.row_group_bytes // avg)

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            if self.writer is not None:
                self.writer.close()
            self.tmp.unlink(missing_ok=True)


def removed_row(row: dict, stage: str, reason: str) -> dict:
    return dict(row, stage=stage, reason=reason)


class RemovedSinks:
    """One removed-documents file per stage, under ``removed/stage=<stage>/<name>.parquet``."""

    def __init__(self, removed_dir: Path, file_name: str):
        self.removed_dir = Path(removed_dir)
        self.file_name = file_name
        self.sinks: dict[str, ParquetSink] = {}

    def _sink(self, stage: str) -> ParquetSink:
        if stage not in self.sinks:
            self.sinks[stage] = ParquetSink(
                self.removed_dir / f"stage={stage}" / self.file_name, REMOVED_SCHEMA
            )
        return self.sinks[stage]

    def add(self, row: dict, stage: str, reason: str) -> None:
        self._sink(stage).add(removed_row(row, stage, reason))

    def write_table(self, table: pa.Table, stage: str) -> None:
        """Removed rows as a table that already has the ``stage`` and ``reason`` columns."""
        if table.num_rows:
            for (
                name
            ) in REMOVED_SCHEMA.names:  # columns only some stages fill, such as survivor_similarity
                if name not in table.column_names:
                    table = table.append_column(
                        name, pa.nulls(table.num_rows, REMOVED_SCHEMA.field(name).type)
                    )
            self._sink(stage).write_table(table)

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()


class WorkWriter(PipelineStep):
    """End of the per-document pipeline: kept documents to ``<out>/<prefix>-<rank>-<n>.parquet``, a new file each
    time one holds ``file_bytes`` of text, the rest to removed/."""

    name = "write"
    type = "💽 WRITER"

    def __init__(
        self, out_dir: str, removed_dir: str, prefix: str = "ingest", file_bytes: int = 128 * 2**20
    ):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.removed_dir = Path(removed_dir)
        self.prefix = prefix
        self.file_bytes = file_bytes

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        removed = RemovedSinks(self.removed_dir, f"{self.prefix}-{rank:05d}.parquet")
        # this generator's body starts when the first document is asked for, before the reader starts
        with (
            measured_task(self.prefix, rank),
            RollingSink(
                self.out_dir, f"{self.prefix}-{rank:05d}", WORK_SCHEMA, self.file_bytes
            ) as kept,
        ):
            for doc in data:
                row = document_row(doc)
                verdict = doc.metadata.get(REMOVED_KEY)
                if verdict is None:
                    row["text_hash"] = doc.metadata["text_hash"]
                    kept.add(row)
                    self.stat_update("kept")
                else:
                    removed.add(row, verdict["stage"], verdict["reason"])
                    self.stat_update(f"removed:{verdict['stage']}")
                yield doc
            removed.close()


class RollingSink:
    """Rows to ``<directory>/<stem>-0000.parquet``, ``-0001``, ...: a new file each time one holds ``file_bytes``
    of text."""

    def __init__(self, directory: Path, stem: str, schema: pa.Schema, file_bytes: int):
        self.directory, self.stem, self.schema, self.file_bytes = (
            Path(directory),
            stem,
            schema,
            file_bytes,
        )
        self.files = 0
        self.sink = self._next_sink()
        self.text_bytes = 0

    def _next_sink(self) -> ParquetSink:
        return ParquetSink(self.directory / f"{self.stem}-{self.files:04d}.parquet", self.schema)

    def add(self, row: dict) -> None:
        self.sink.add(row)
        self.text_bytes += len(row["text"])
        if self.text_bytes >= self.file_bytes:
            self.sink.close()
            self.files, self.text_bytes = self.files + 1, 0
            self.sink = self._next_sink()

    def __enter__(self) -> RollingSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.sink.__exit__(exc_type, exc, tb)


def rewrite_work_files(
    inputs: list[Path], out_dir: Path, removed_dir: Path, stage: str, transform
) -> dict[str, int]:
    """Rewrite work files one by one: ``transform(table, path) -> (kept, removed)``.

    ``kept`` has the work schema; ``removed`` has it plus a ``reason`` column, or is None for a
    stage that removes nothing. Kept rows go to ``out_dir`` under the input's file name, removed
    rows to ``removed/stage=<stage>/``. Returns the counters ``kept`` and ``removed:<reason>``.
    """
    counters: dict[str, int] = {"kept": 0}
    for path in inputs:
        kept, removed = transform(pq.read_table(path, schema=WORK_SCHEMA), path)
        with ParquetSink(Path(out_dir) / path.name, WORK_SCHEMA) as sink:
            sink.write_table(kept.sort_by("id"))
        if removed is not None and removed.num_rows:
            removed = with_constant(removed, "stage", stage)
            sinks = RemovedSinks(removed_dir, path.name)
            sinks.write_table(removed.sort_by("id"), stage)
            sinks.close()
            for reason, count in zip(*_value_counts(removed.column("reason"))):
                counters[f"removed:{reason}"] = counters.get(f"removed:{reason}", 0) + count
        counters["kept"] += kept.num_rows
    return counters


def split_removed(
    table: pa.Table, removed: pa.Array, columns: list[str], reason: str
) -> tuple[pa.Table, pa.Table]:
    """A ``transform`` result for ``rewrite_work_files``: rows where ``removed`` is false are kept, the
    others are removed for ``reason``; both keep only ``columns``."""
    kept = table.filter(pc.invert(removed)).select(columns)
    return kept, with_constant(table.filter(removed).select(columns), "reason", reason)


def with_constant(table: pa.Table, name: str, value: str) -> pa.Table:
    return table.append_column(name, pa.array([value] * table.num_rows, pa.string()))


def _value_counts(column: pa.ChunkedArray) -> tuple[list, list]:
    counts = column.value_counts()
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()
