"""Parquet output shared by all stages: batched, zstd, atomic (temp file, then rename)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
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


class GroupedSink:
    """Rows that arrive in order, as one Parquet file in row groups closed at the row that brings the group's text
    to ``group_bytes`` (or at the end): every cut depends on the rows alone, never on the tables they arrive in, so
    the bytes do not depend on batch sizes or workers; and only one row group is ever held."""

    def __init__(self, path: Path, schema: pa.Schema, group_bytes: int):
        self.sink, self.group_bytes = ParquetSink(path, schema), group_bytes
        self.group: list[pa.Table] = []
        self.group_text = 0

    @property
    def count(self) -> int:
        return self.sink.count + sum(t.num_rows for t in self.group)

    def write(self, table: pa.Table) -> None:
        text = np.cumsum(
            pc.fill_null(pc.binary_length(table["text"]), 0).to_numpy()
        )  # text up to each row
        start = 0
        while start < table.num_rows:
            before = int(text[start - 1]) if start else 0
            filled_at = int(
                np.searchsorted(text, before + self.group_bytes - self.group_text)
            )  # the row that fills the group
            stop = min(filled_at + 1, table.num_rows)
            self.group.append(table.slice(start, stop - start))
            self.group_text += int(text[stop - 1]) - before
            start = stop
            if self.group_text >= self.group_bytes:
                self._close_group()

    def _close_group(self) -> None:
        if self.group:
            self.sink.write_table(pa.concat_tables(self.group).combine_chunks(), one_row_group=True)
        self.group, self.group_text = [], 0

    def close(self) -> None:
        self._close_group()
        self.sink.close()

    def __enter__(self) -> GroupedSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.sink.__exit__(exc_type, exc, tb)


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
