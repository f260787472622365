"""The final write: Hive-partitioned shards ``domain=<d>/quality=<tier>/part-NNNNN.parquet``.

Rows are sorted by id within a partition and split into files of a fixed row count, so the
bytes written depend only on the documents, never on how many workers produced them. Two phases
of executor tasks keep memory bounded: each input file is split by partition into runs sorted
by id, in row groups of about ``RUN_GROUP_BYTES``; then a task per partition merges its runs,
never the whole partition. A merge reads at most ``MERGE_FAN_IN`` runs at once, one row group of
each: a partition with more runs (one per input file, so their number grows with the corpus) is
merged in passes through intermediate runs, which a stable merge of consecutive runs makes equal
to one merge of them all. The part files are written a row group (``PART_GROUP_BYTES`` of text) at
a time, so a merge task holds about MERGE_FAN_IN x RUN_GROUP_BYTES plus one row group, whatever the
size of its partition or of its files.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stages.files import file_sha256, finished_files, write_json
from stages.schema import SHARD_SCHEMA, UNSCORED_TIER, WORK_SCHEMA
from stages.tasks import Phase, StageDirs, my_share, run_inline
from stages.writers import ParquetSink

STAGE = "shards"
ROWS_PER_FILE = 100_000
RUN_GROUP_BYTES = 4 * 1024 * 1024
MERGE_FAN_IN = 32
PART_GROUP_BYTES = 16 * 1024 * 1024


def write_runs(path: Path, runs_dir: Path) -> None:
    """One input file's rows split by partition, each sorted by id: ``<runs_dir>/domain=<d>/quality=<t>/<file>``."""
    table = pq.read_table(path, schema=WORK_SCHEMA, columns=SHARD_SCHEMA.names)
    tiers = pc.fill_null(table["quality_tier"], UNSCORED_TIER)
    keys = pc.binary_join_element_wise(table["domain"], tiers, "\x00")
    for key in pc.unique(keys).to_pylist():
        domain, tier = key.split("\x00")
        part = table.filter(pc.equal(keys, key)).sort_by("id")
        write_run([part], Path(runs_dir) / f"domain={domain}" / f"quality={tier}" / path.name)


def write_run(tables: Iterable[pa.Table], path: Path) -> None:
    """A sorted run (the tables in order) in row groups of about RUN_GROUP_BYTES, so a merge reads it in small steps."""
    with ParquetSink(path, SHARD_SCHEMA, row_group_bytes=RUN_GROUP_BYTES) as sink:
        for table in tables:
            sink.write_table(table)


class SortedRun:
    """A run read a row group at a time; ``head`` holds the rows read and not yet merged."""

    def __init__(self, path: Path):
        file = pq.ParquetFile(path)
        self.groups = (file.read_row_group(i) for i in range(file.num_row_groups))
        self.head = pa.Table.from_batches([], schema=SHARD_SCHEMA)
        self.done = False

    def fill(self) -> None:
        if not self.done and self.head.num_rows == 0:
            group = next(self.groups, None)
            if group is None:
                self.done = True
            else:
                self.head = group.cast(SHARD_SCHEMA)

    def take_up_to(self, bound: str) -> pa.Table:
        """The head rows with id <= bound (a prefix, since the run is sorted)."""
        n = int(pc.sum(pc.less_equal(self.head["id"], bound)).as_py() or 0)
        taken, self.head = self.head.slice(0, n), self.head.slice(n)
        return taken


def merged_batches(paths: list[Path]):
    """The rows of sorted runs in id order, a table at a time.

    Each round takes, from every run, the rows up to the smallest last id among the runs' heads:
    no row still unread can come before them.
    """
    runs = [SortedRun(p) for p in paths]
    while True:
        for run in runs:
            run.fill()
        live = [run for run in runs if run.head.num_rows]
        if not live:
            return
        bound = min(run.head["id"][-1].as_py() for run in live)
        yield pa.concat_tables([run.take_up_to(bound) for run in live]).sort_by("id")


def fewer_runs(run_paths: list[Path], scratch: Path, fan_in: int = MERGE_FAN_IN) -> list[Path]:
    """Merge consecutive groups of ``fan_in`` runs into intermediate runs under ``scratch`` until at most
    ``fan_in`` runs are left; returns them in order."""
    level = 0
    while len(run_paths) > fan_in:
        merged = []
        for start in range(0, len(run_paths), fan_in):
            merged.append(Path(scratch) / f"level-{level}" / f"run-{start // fan_in:06d}.parquet")
            write_run(merged_batches(run_paths[start : start + fan_in]), merged[-1])
        run_paths, level = merged, level + 1
    return run_paths


def merge_partition(run_paths: list[Path], directory: Path, rows_per_file: int, scratch: Path,
                    fan_in: int = MERGE_FAN_IN) -> int:
    """Write one partition's part files from its sorted runs (intermediate runs go to ``scratch``, which is
    cleared first: a killed task starts its partition over); returns its row count."""
    shutil.rmtree(scratch, ignore_errors=True)
    with PartFiles(directory, rows_per_file) as parts:
        for table in merged_batches(fewer_runs(run_paths, scratch, fan_in)):
            parts.write(table)
    shutil.rmtree(scratch, ignore_errors=True)
    return parts.rows


class PartFiles:
    """A partition's rows, in id order, as ``part-NNNNN.parquet`` files of ``rows_per_file`` rows, each in row
    groups closed at the row that brings the group's text to ``group_bytes``.

    Every cut depends only on the rows, never on the tables they arrive in, so the bytes do not depend on the
    workers; and only one row group is ever held, so memory does not grow with the file or the partition.
    """

    def __init__(self, directory: Path, rows_per_file: int, group_bytes: int = PART_GROUP_BYTES):
        self.directory, self.rows_per_file, self.group_bytes = Path(directory), rows_per_file, group_bytes
        self.group: list[pa.Table] = []
        self.group_rows = self.group_text = self.file_rows = self.part = self.rows = 0
        self.sink: ParquetSink | None = None

    def write(self, table: pa.Table) -> None:
        while table.num_rows:
            n = self._rows_closing_group(table)
            self._add(table.slice(0, n))
            if n == table.num_rows and not self._group_full():
                return
            self._close_group()
            table = table.slice(n)

    def _rows_closing_group(self, table: pa.Table) -> int:
        """How many of ``table``'s rows go into the open group: up to the row that fills it, or all of them."""
        room = self.rows_per_file - self.file_rows - self.group_rows
        text = np.cumsum(pc.fill_null(pc.binary_length(table["text"]), 0).to_numpy()) + self.group_text
        by_bytes = int(np.searchsorted(text, self.group_bytes)) + 1
        return min(room, by_bytes, table.num_rows)

    def _add(self, table: pa.Table) -> None:
        self.group.append(table)
        self.group_rows += table.num_rows
        self.group_text += int(pc.sum(pc.binary_length(table["text"])).as_py() or 0)

    def _group_full(self) -> bool:
        return self.group_text >= self.group_bytes or self.file_rows + self.group_rows >= self.rows_per_file

    def _close_group(self) -> None:
        if self.sink is None:
            self.sink = ParquetSink(self.directory / f"part-{self.part:05d}.parquet", SHARD_SCHEMA)
        self.sink.write_table(pa.concat_tables(self.group).combine_chunks(), one_row_group=True)
        self.file_rows += self.group_rows
        self.rows += self.group_rows
        self.group, self.group_rows, self.group_text = [], 0, 0
        if self.file_rows == self.rows_per_file:
            self._close_file()

    def _close_file(self) -> None:
        self.sink.close()
        self.sink, self.file_rows, self.part = None, 0, self.part + 1

    def __enter__(self) -> "PartFiles":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            if self.sink is not None:
                self.sink.__exit__(exc_type, exc, tb)
            return
        if self.group_rows:
            self._close_group()
        if self.sink is not None:
            self._close_file()


def phases(dirs: StageDirs, tasks: int, rows_per_file: int = ROWS_PER_FILE) -> list[Phase]:
    """``dirs.out`` is the shards directory; each merge task also records its files' checksums."""
    runs_dir, sums_dir, passes_dir = dirs.scratch / "runs", dirs.scratch / "checksums", dirs.scratch / "passes"

    def split(rank: int, world_size: int) -> dict:
        for path in my_share(dirs.input_files(), rank, world_size):
            write_runs(path, runs_dir)
        return {}

    def merge(rank: int, world_size: int) -> dict:
        counters = {}
        for partition in my_share([p.relative_to(runs_dir) for p in runs_dir.glob("domain=*/quality=*")], rank, world_size):
            directory = Path(dirs.out) / partition
            rows = merge_partition(finished_files(runs_dir / partition, "*.parquet"), directory, rows_per_file,
                                   passes_dir / partition)
            counters[f"{partition.parent.name.removeprefix('domain=')}/{partition.name.removeprefix('quality=')}"] = rows
            sums = {str(p.relative_to(dirs.out)): file_sha256(p) for p in finished_files(directory, "*.parquet")}
            write_json(sums_dir / f"{partition.parent.name}.{partition.name}.json", sums)
        return counters

    return [Phase(f"{STAGE}/runs", split, tasks), Phase(f"{STAGE}/merge", merge, tasks)]


def checksums(dirs: StageDirs) -> dict[str, str]:
    """Every shard file's sha256, as the merge tasks recorded them."""
    import json

    sums: dict[str, str] = {}
    for path in finished_files(dirs.scratch / "checksums", "*.json"):
        sums.update(json.loads(path.read_text()))
    return dict(sorted(sums.items()))


def write_shards(dirs: StageDirs, tasks: int = 2, rows_per_file: int = ROWS_PER_FILE) -> dict[str, int]:
    """Write all kept documents as shards; returns documents per ``domain/tier``."""
    return run_inline(phases(dirs, tasks, rows_per_file))
