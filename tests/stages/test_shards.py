"""The shard merge: bounded fan-in passes give the same files as one merge of every run, part files are cut
where the rows say, and a merge's memory does not grow with its partition."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stages.schema import SHARD_SCHEMA, WORK_SCHEMA
from stages.shards import PartFiles, cut_points, merge_runs, write_shards
from stages.sorted_runs import RUN_GROUP_BYTES, Run, write_run
from stages.tasks import StageDirs


def sorted_runs(directory, runs: int, seed: int = 0) -> list:
    """Runs of random ids (some shared between runs, with different texts) sorted by id, as write_runs leaves them."""
    rng = np.random.default_rng(seed)
    paths = []
    for r in range(runs):
        n = int(rng.integers(0, 400))
        ids = sorted(f"doc-{i:05d}" for i in rng.integers(0, 3000, n))
        rows = {name: [None] * n for name in SHARD_SCHEMA.names}
        rows["id"] = ids
        rows["text"] = [f"run {r} row {k} " + "word " * int(rng.integers(1, 300)) for k in range(n)]
        paths.append(directory / f"part-{r:05d}.parquet")
        write_run([pa.table(rows, schema=SHARD_SCHEMA)], paths[-1])
    return paths


def test_merging_in_passes_of_few_runs_writes_the_same_bytes_as_one_merge(tmp_path):
    runs = sorted_runs(tmp_path / "runs", 23)
    one = tmp_path / "one"
    files = merge_runs(
        [Run(p) for p in runs], one, 1000, tmp_path / "scratch-one", fan_in=len(runs)
    )
    for fan_in in (2, 3, 5):
        passes = tmp_path / f"fan-in-{fan_in}"
        assert merge_runs(
            [Run(p) for p in runs], passes, 1000, tmp_path / f"scratch-{fan_in}", fan_in=fan_in
        ) == [passes / p.name for p in files]
        assert [p.read_bytes() for p in sorted(passes.glob("*.parquet"))] == [
            p.read_bytes() for p in files
        ]
        assert not (tmp_path / f"scratch-{fan_in}").exists()
    merged = pa.concat_tables(pq.read_table(p) for p in files)
    assert merged.num_rows == sum(pq.ParquetFile(p).metadata.num_rows for p in runs)
    assert merged["id"].to_pylist() == sorted(merged["id"].to_pylist())
    # Equal ids keep the order of their runs: the merge is stable, so the bytes do not depend on the passes.
    texts = merged.to_pylist()
    for a, b in zip(texts, texts[1:]):
        if a["id"] == b["id"]:
            assert int(a["text"].split()[1]) <= int(b["text"].split()[1])


@pytest.mark.slow
def test_equal_ids_keep_the_order_of_their_runs_across_row_groups(tmp_path, monkeypatch):
    """Runs read in row groups of a few rows, with ids repeated within and across runs and groups."""
    monkeypatch.setattr("stages.sorted_runs.RUN_GROUP_BYTES", 2000)
    runs = sorted_runs(tmp_path / "runs", 12, seed=4)
    assert max(pq.ParquetFile(p).num_row_groups for p in runs) > 20
    files = merge_runs([Run(p) for p in runs], tmp_path / "one", 10**6, tmp_path / "scratch")
    merged = pq.read_table(files[0]).to_pylist()
    order = [
        (row["id"], int(row["text"].split()[1]), int(row["text"].split()[3])) for row in merged
    ]
    assert order == sorted(order)  # by id, then run, then position in the run
    assert len(order) == sum(pq.ParquetFile(p).metadata.num_rows for p in runs)
    passes = merge_runs(
        [Run(p) for p in runs], tmp_path / "passes", 10**6, tmp_path / "scratch", fan_in=3
    )
    assert passes[0].read_bytes() == files[0].read_bytes()


def test_a_partition_merged_in_pieces_by_its_cut_points_writes_the_same_files_as_one_merge(
    tmp_path,
):
    runs = sorted_runs(tmp_path / "runs", 9, seed=1)
    one = merge_runs([Run(p) for p in runs], tmp_path / "one", 100, tmp_path / "scratch")
    for files_per_piece in (1, 3):
        cuts = cut_points(runs, 100 * files_per_piece)
        assert cuts[0] == [0] * len(runs) and cuts[-1] == [
            pq.ParquetFile(p).metadata.num_rows for p in runs
        ]
        assert all(sum(b) - sum(a) == 100 * files_per_piece for a, b in zip(cuts, cuts[1:-1]))
        pieces = tmp_path / f"pieces-{files_per_piece}"
        for piece, (start, stop) in enumerate(zip(cuts, cuts[1:])):
            merge_runs(
                [Run(p, a, b) for p, a, b in zip(runs, start, stop) if b > a],
                pieces,
                100,
                tmp_path / f"scratch-{piece}",
                first_part=piece * files_per_piece,
                fan_in=4,
            )
        assert [p.name for p in sorted(pieces.glob("*.parquet"))] == [p.name for p in one]
        assert [p.read_bytes() for p in sorted(pieces.glob("*.parquet"))] == [
            p.read_bytes() for p in one
        ]


def work_files(directory, files: int, seed: int = 0) -> None:
    """Work files as the buckets stage leaves them: random ids, two domains, scored and unscored rows. Ids are
    unique, as the order of equal ids follows the runs, which follow the tasks."""
    rng = np.random.default_rng(seed)
    for f in range(files):
        n = int(rng.integers(50, 500))
        rows = {name: [None] * n for name in WORK_SCHEMA.names}
        rows["id"] = [
            f"doc-{i:06d}-{f}" for i in rng.integers(0, 10**6, n)
        ]  # unique, and interleaved across files
        rows["text"] = [f"file {f} row {k} " + "word " * int(rng.integers(1, 50)) for k in range(n)]
        rows["domain"] = rng.choice(["general", "legal"], n).tolist()
        rows["quality_tier"] = rng.choice(["high", "low", None], n).tolist()
        pq.write_table(pa.table(rows, schema=WORK_SCHEMA), directory / f"ingest-{f:05d}.parquet")


def test_shards_do_not_depend_on_how_many_merge_tasks_wrote_them(tmp_path):
    (tmp_path / "in").mkdir()
    work_files(tmp_path / "in", 7)
    written = {}
    for tasks, files_per_merge in ((1, 1000), (3, 1), (2, 2)):
        out = tmp_path / f"out-{tasks}-{files_per_merge}"
        dirs = StageDirs(
            tmp_path / "in",
            out,
            tmp_path / "removed",
            tmp_path / f"scratch-{tasks}-{files_per_merge}",
        )
        counters = write_shards(dirs, tasks, rows_per_file=150, files_per_merge=files_per_merge)
        written[tasks, files_per_merge] = {
            str(p.relative_to(out)): p.read_bytes() for p in out.glob("*/*/*.parquet")
        }
        assert sum(counters.values()) == sum(
            pq.ParquetFile(p).metadata.num_rows for p in (tmp_path / "in").glob("*")
        )
    assert len(written[1, 1000]) > 6  # several files in some partitions, so pieces split them
    assert written[1, 1000] == written[3, 1] == written[2, 2]
    runs = [
        sorted(p.name for p in d.iterdir())
        for d in (tmp_path / "scratch-3-1/runs").glob("domain=*/quality=*")
    ]
    assert len(runs) == 6 and all(
        names == ["task-00000.parquet", "task-00001.parquet", "task-00002.parquet"]
        for names in runs
    )


def test_a_run_is_read_in_row_groups_of_a_few_megabytes(tmp_path):
    run = sorted_runs(tmp_path, 1, seed=3)[0]
    big = pa.table({"id": [f"doc-{i:06d}" for i in range(4000)], "text": ["x" * 5000] * 4000}).cast(
        pa.schema([SHARD_SCHEMA.field("id"), SHARD_SCHEMA.field("text")])
    )
    rows = {
        name: big[name]
        if name in big.column_names
        else pa.nulls(4000, SHARD_SCHEMA.field(name).type)
        for name in SHARD_SCHEMA.names
    }
    write_run([pa.table(rows, schema=SHARD_SCHEMA)], run)
    meta = pq.ParquetFile(run).metadata
    assert meta.num_row_groups >= 4
    assert (
        max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) * 5000
        <= 1.1 * RUN_GROUP_BYTES
    )


def test_part_files_cut_the_same_row_groups_however_the_rows_arrive(tmp_path):
    rows = pq.read_table(sorted_runs(tmp_path / "runs", 1, seed=5)[0])
    whole, pieces = tmp_path / "whole", tmp_path / "pieces"
    with PartFiles(whole, 150, group_bytes=20_000) as parts:
        parts.write(rows)
    with PartFiles(pieces, 150, group_bytes=20_000) as parts:
        for start in range(0, rows.num_rows, 7):
            parts.write(rows.slice(start, 7))
    files = sorted(whole.glob("*.parquet"))
    assert [p.read_bytes() for p in files] == [
        p.read_bytes() for p in sorted(pieces.glob("*.parquet"))
    ]
    assert [pq.ParquetFile(p).metadata.num_rows for p in files][:-1] == [150] * (len(files) - 1)
    longest = max(len(t) for t in rows["text"].to_pylist())
    for path in files:
        file = pq.ParquetFile(path)
        groups = [file.read_row_group(i)["text"].to_pylist() for i in range(file.num_row_groups)]
        assert all(sum(map(len, g)) < 20_000 + longest for g in groups)
        # A group closes at the row that fills it, or at the end of its file.
        assert all(sum(map(len, g)) >= 20_000 for g in groups[:-1])


GROUP_BYTES = 256 * 1024
MERGE_MEMORY = """
import sys
from pathlib import Path
import pyarrow as pa
import stages.sorted_runs
import pyarrow.parquet as pq
from stages.shards import merge_runs
from stages.sorted_runs import Run
stages.sorted_runs.RUN_GROUP_BYTES = int(sys.argv[4])
runs = [Run(p) for p in sorted(Path(sys.argv[1]).glob("*.parquet"))]
files = merge_runs(runs, Path(sys.argv[2]), rows_per_file=10**9, scratch=Path(sys.argv[3]), fan_in=4)
print(sum(pq.ParquetFile(p).metadata.num_rows for p in files), pa.default_memory_pool().max_memory())
"""


def merge_peak(tmp_path, runs: int) -> tuple[int, int]:
    """Rows merged and the Arrow pool's peak bytes of a merge of ``runs`` runs of 2,000 rows of 1 KB, in a fresh
    process; runs and intermediate runs are in row groups of 256 KB, so that a merge's heads are as large on
    either size."""
    rng = np.random.default_rng(runs)
    directory = tmp_path / f"runs-{runs}"
    for r in range(runs):
        ids = sorted(f"doc-{i:09d}" for i in rng.integers(0, 10**9, 2000))
        table = {name: pa.nulls(2000, SHARD_SCHEMA.field(name).type) for name in SHARD_SCHEMA.names}
        table.update(id=pa.array(ids), text=pa.array([f"{r} {i} " + "x" * 1000 for i in ids]))
        write_run([pa.table(table, schema=SHARD_SCHEMA)], directory / f"part-{r:05d}.parquet")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            MERGE_MEMORY,
            str(directory),
            str(tmp_path / f"out-{runs}"),
            str(tmp_path / f"scratch-{runs}"),
            str(GROUP_BYTES),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])),
    )
    rows, peak = map(int, out.stdout.split())
    return rows, peak


@pytest.mark.slow
def test_a_merge_holds_the_same_memory_for_a_partition_four_times_larger(tmp_path, monkeypatch):
    """Even as one part file: memory is a few runs' row groups and one part row group, not the partition."""
    monkeypatch.setattr("stages.sorted_runs.RUN_GROUP_BYTES", GROUP_BYTES)
    small_rows, small = merge_peak(tmp_path, 8)
    large_rows, large = merge_peak(tmp_path, 32)
    assert (small_rows, large_rows) == (16_000, 64_000)
    assert large < 1.2 * small, (small, large)
