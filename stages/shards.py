"""The final write: Hive-partitioned shards ``domain=<d>/quality=<tier>/part-NNNNN.parquet``.

Rows are sorted by id within a partition and split into files of a fixed row count, so the
bytes written depend only on the documents, never on how many workers produced them. Three phases
of executor tasks keep every task's memory bounded and no partition in one task:

- runs: a task per share of the input files splits each by partition and sorts it by id, then merges
  its files' pieces into one run per partition, in row groups of about ``RUN_GROUP_BYTES``;
- cuts: a task per partition merges its runs' ids alone and records, every ``FILES_PER_MERGE``
  part files, how many rows of each run come before that point;
- merge: a task per such piece merges its slice of every run and writes its part files.

A merge reads at most ``MERGE_FAN_IN`` runs at once, one row group of each: a piece with more runs
(one per task of the runs phase) is merged in passes through intermediate runs, which a stable merge
of consecutive runs makes equal to one merge of them all.
Part files are written a row group (``PART_GROUP_BYTES`` of text) at a time, so a merge task holds
about MERGE_FAN_IN x RUN_GROUP_BYTES plus one row group, whatever the size of its partition or files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.files import file_sha256, finished_files, write_json
from stages.rewrite import work_batches
from stages.schema import SHARD_SCHEMA, UNSCORED_TIER
from stages.sorted_runs import MERGE_FAN_IN, Run, fewer_runs, merged_batches, write_run
from stages.tasks import Phase, StageDirs, my_share, run_inline
from stages.writers import GroupedSink

STAGE = "shards"
ROWS_PER_FILE = 100_000
# Part files per merge piece: a partition is merged by as many tasks as it has pieces.
FILES_PER_MERGE = 10
PART_GROUP_BYTES = 16 * 1024 * 1024


def write_runs(path: Path, runs_dir: Path) -> None:
    """One input file's rows split by partition, a batch at a time (``work_batches``), each batch's share of a
    partition sorted by id: ``<runs_dir>/domain=<d>/quality=<t>/<file stem>.<batch>.parquet``."""
    for number, table in enumerate(work_batches(path, SHARD_SCHEMA.names)):
        tiers = pc.fill_null(table["quality_tier"], UNSCORED_TIER)
        keys = pc.binary_join_element_wise(table["domain"], tiers, "\x00")
        for key in pc.unique(keys).to_pylist():
            domain, tier = key.split("\x00")
            part = table.filter(pc.equal(keys, key)).sort_by("id")
            write_run(
                [part],
                Path(runs_dir)
                / f"domain={domain}"
                / f"quality={tier}"
                / f"{path.stem}.{number:05d}.parquet",
            )


def write_task_runs(paths: list[Path], runs_dir: Path, name: str, scratch: Path) -> None:
    """One run per partition of a task's input files, ``<runs_dir>/domain=<d>/quality=<t>/<name>``: each file's
    rows are split and sorted under ``scratch`` (cleared first: a killed task starts over), then merged. So a
    partition has a run per task, not per input file: the later merges read fewer, longer runs."""
    shutil.rmtree(scratch, ignore_errors=True)
    for path in paths:
        write_runs(path, scratch / "files")
    for directory in sorted((scratch / "files").glob("domain=*/quality=*")):
        partition = directory.relative_to(scratch / "files")
        runs = [Run(p) for p in finished_files(directory, "*.parquet")]
        target = Path(runs_dir) / partition / name
        if len(runs) == 1:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(runs[0].path, target)
        else:
            write_run(merged_batches(fewer_runs(runs, scratch / "passes" / partition)), target)
    shutil.rmtree(scratch, ignore_errors=True)


def cut_points(run_paths: list[Path], every: int) -> list[list[int]]:
    """Where the merge of a partition's runs splits into pieces of ``every`` rows: per cut, how many rows of each
    run come before it, from all zeros to every run's length. Reads only the ids."""
    counts = np.zeros(len(run_paths), np.int64)
    cuts, merged = [counts.tolist()], 0
    for batch in merged_batches([Run(p) for p in run_paths], ["id"], tagged=True):
        source = batch["run"].to_numpy()
        while len(cuts) * every < merged + len(source):
            cuts.append(
                (
                    counts
                    + np.bincount(source[: len(cuts) * every - merged], minlength=len(counts))
                ).tolist()
            )
        counts += np.bincount(source, minlength=len(counts))
        merged += len(source)
    if counts.tolist() != cuts[-1]:
        cuts.append(counts.tolist())
    return cuts


def merge_runs(
    runs: list[Run],
    directory: Path,
    rows_per_file: int,
    scratch: Path,
    first_part: int = 0,
    fan_in: int = MERGE_FAN_IN,
) -> list[Path]:
    """Write the merge of ``runs`` as part files numbered from ``first_part`` (intermediate runs go to ``scratch``,
    which is cleared first: a killed task starts its piece over); returns the files written."""
    shutil.rmtree(scratch, ignore_errors=True)
    with PartFiles(directory, rows_per_file, first_part) as parts:
        for table in merged_batches(fewer_runs(runs, scratch, fan_in)):
            parts.write(table)
    shutil.rmtree(scratch, ignore_errors=True)
    return parts.files


class PartFiles:
    """A partition's rows, in id order, as ``part-NNNNN.parquet`` files of ``rows_per_file`` rows, each in row
    groups closed at the row that brings the group's text to ``group_bytes`` (``GroupedSink``).

    Every cut depends only on the rows, never on the tables they arrive in, so the bytes do not depend on the
    workers; and only one row group is ever held, so memory does not grow with the file or the partition.
    """

    def __init__(
        self,
        directory: Path,
        rows_per_file: int,
        first_part: int = 0,
        group_bytes: int = PART_GROUP_BYTES,
    ):
        self.directory, self.rows_per_file, self.group_bytes = (
            Path(directory),
            rows_per_file,
            group_bytes,
        )
        self.part = first_part
        self.files: list[Path] = []
        self.sink: GroupedSink | None = None

    def write(self, table: pa.Table) -> None:
        start = 0
        while start < table.num_rows:
            if self.sink is None:
                self.files.append(self.directory / f"part-{self.part:05d}.parquet")
                self.sink = GroupedSink(self.files[-1], SHARD_SCHEMA, self.group_bytes)
            n = min(self.rows_per_file - self.sink.count, table.num_rows - start)
            self.sink.write(table.slice(start, n))
            start += n
            if self.sink.count == self.rows_per_file:
                self._close_file()

    def _close_file(self) -> None:
        if self.sink is None:  # callers close only a file they opened
            raise RuntimeError("no shard file is open to close")
        self.sink.close()
        self.sink, self.part = None, self.part + 1

    def __enter__(self) -> PartFiles:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.sink is not None:
            if exc_type is None:
                self._close_file()
            else:
                self.sink.__exit__(exc_type, exc, tb)


def phases(
    dirs: StageDirs,
    tasks: int,
    rows_per_file: int = ROWS_PER_FILE,
    files_per_merge: int = FILES_PER_MERGE,
) -> list[Phase]:
    """``dirs.out`` is the shards directory; each merge task also records its files' checksums."""
    runs_dir, cuts_dir, sums_dir = (
        dirs.scratch / "runs",
        dirs.scratch / "cuts",
        dirs.scratch / "checksums",
    )

    def split(rank: int, world_size: int) -> dict:
        write_task_runs(
            my_share(dirs.input_files(), rank, world_size),
            runs_dir,
            f"task-{rank:05d}.parquet",
            dirs.scratch / "file-runs" / f"task-{rank:05d}",
        )
        return {}

    def cut(rank: int, world_size: int) -> dict:
        for partition in my_share(
            [p.relative_to(runs_dir) for p in runs_dir.glob("domain=*/quality=*")], rank, world_size
        ):
            run_paths = finished_files(runs_dir / partition, "*.parquet")
            write_json(
                cuts_dir / f"{partition_name(partition)}.json",
                {
                    "partition": str(partition),
                    "runs": [p.name for p in run_paths],
                    "cuts": cut_points(run_paths, rows_per_file * files_per_merge),
                },
            )
        return {}

    def merge(rank: int, world_size: int) -> dict:
        counters: dict[str, int] = {}
        plans = cut_plans(cuts_dir)
        pieces = [
            (name, piece) for name, plan in plans.items() for piece in range(len(plan["cuts"]) - 1)
        ]
        for name, piece in my_share(pieces, rank, world_size):
            plan = plans[name]
            partition = Path(plan["partition"])
            start, stop = plan["cuts"][piece], plan["cuts"][piece + 1]
            runs = [
                Run(runs_dir / partition / run, a, b)
                for run, a, b in zip(plan["runs"], start, stop)
                if b > a
            ]
            files = merge_runs(
                runs,
                dirs.out / partition,
                rows_per_file,
                dirs.scratch / "passes" / partition / str(piece),
                first_part=piece * files_per_merge,
            )
            label = f"{partition.parent.name.removeprefix('domain=')}/{partition.name.removeprefix('quality=')}"
            counters[label] = counters.get(label, 0) + sum(stop) - sum(start)
            write_json(
                sums_dir / f"{name}.{piece:05d}.json",
                {str(p.relative_to(dirs.out)): file_sha256(p) for p in files},
            )
        return counters

    return [
        Phase(f"{STAGE}/runs", split, tasks),
        Phase(f"{STAGE}/cuts", cut, tasks),
        Phase(f"{STAGE}/merge", merge, tasks),
    ]


def partition_name(partition: Path) -> str:
    return f"{partition.parent.name}.{partition.name}"


def cut_plans(cuts_dir: Path) -> dict[str, dict]:
    """Each partition's runs and cuts, by ``domain=<d>.quality=<t>``."""
    return {p.stem: json.loads(p.read_text()) for p in finished_files(cuts_dir, "*.json")}


def checksums(dirs: StageDirs) -> dict[str, str]:
    """Every shard file's sha256, as the merge tasks recorded them."""
    sums: dict[str, str] = {}
    for path in finished_files(dirs.scratch / "checksums", "*.json"):
        sums.update(json.loads(path.read_text()))
    return dict(sorted(sums.items()))


def write_shards(
    dirs: StageDirs,
    tasks: int = 2,
    rows_per_file: int = ROWS_PER_FILE,
    files_per_merge: int = FILES_PER_MERGE,
) -> dict[str, int]:
    """Write all kept documents as shards; returns documents per ``domain/tier``."""
    return run_inline(phases(dirs, tasks, rows_per_file, files_per_merge))
