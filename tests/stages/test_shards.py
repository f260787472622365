"""The shard merge: bounded fan-in passes give the same files as one merge of every run, part files are cut
where the rows say, and a merge's memory does not grow with its partition."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stages.schema import SHARD_SCHEMA
from stages.shards import RUN_GROUP_BYTES, PartFiles, merge_partition, write_run


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
    rows = merge_partition(runs, one, 1000, tmp_path / "scratch-one", fan_in=len(runs))
    for fan_in in (2, 3, 5):
        passes = tmp_path / f"fan-in-{fan_in}"
        assert merge_partition(runs, passes, 1000, tmp_path / f"scratch-{fan_in}", fan_in=fan_in) == rows
        assert [p.read_bytes() for p in sorted(passes.glob("*.parquet"))] == [p.read_bytes() for p in sorted(one.glob("*.parquet"))]
        assert not (tmp_path / f"scratch-{fan_in}").exists()
    merged = pa.concat_tables(pq.read_table(p) for p in sorted(one.glob("*.parquet")))
    assert rows == merged.num_rows == sum(pq.ParquetFile(p).metadata.num_rows for p in runs)
    assert merged["id"].to_pylist() == sorted(merged["id"].to_pylist())
    # Equal ids keep the order of their runs: the merge is stable, so the bytes do not depend on the passes.
    texts = merged.to_pylist()
    for a, b in zip(texts, texts[1:]):
        if a["id"] == b["id"]:
            assert int(a["text"].split()[1]) <= int(b["text"].split()[1])


def test_a_run_is_read_in_row_groups_of_a_few_megabytes(tmp_path):
    run = sorted_runs(tmp_path, 1, seed=3)[0]
    big = pa.table({"id": [f"doc-{i:06d}" for i in range(4000)], "text": ["x" * 5000] * 4000}).cast(
        pa.schema([SHARD_SCHEMA.field("id"), SHARD_SCHEMA.field("text")]))
    rows = {name: big[name] if name in big.column_names else pa.nulls(4000, SHARD_SCHEMA.field(name).type) for name in SHARD_SCHEMA.names}
    write_run([pa.table(rows, schema=SHARD_SCHEMA)], run)
    meta = pq.ParquetFile(run).metadata
    assert meta.num_row_groups >= 4
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) * 5000 <= 1.1 * RUN_GROUP_BYTES


def test_part_files_cut_the_same_row_groups_however_the_rows_arrive(tmp_path):
    rows = pq.read_table(sorted_runs(tmp_path / "runs", 1, seed=5)[0])
    whole, pieces = tmp_path / "whole", tmp_path / "pieces"
    with PartFiles(whole, 150, group_bytes=20_000) as parts:
        parts.write(rows)
    with PartFiles(pieces, 150, group_bytes=20_000) as parts:
        for start in range(0, rows.num_rows, 7):
            parts.write(rows.slice(start, 7))
    files = sorted(whole.glob("*.parquet"))
    assert [p.read_bytes() for p in files] == [p.read_bytes() for p in sorted(pieces.glob("*.parquet"))]
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
import stages.shards
from stages.shards import merge_partition
stages.shards.RUN_GROUP_BYTES = int(sys.argv[4])
runs = sorted(Path(sys.argv[1]).glob("*.parquet"))
rows = merge_partition(runs, Path(sys.argv[2]), rows_per_file=10**9, scratch=Path(sys.argv[3]), fan_in=4)
print(rows, pa.default_memory_pool().max_memory())
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
    out = subprocess.run([sys.executable, "-c", MERGE_MEMORY, str(directory), str(tmp_path / f"out-{runs}"),
                          str(tmp_path / f"scratch-{runs}"), str(GROUP_BYTES)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2])))
    rows, peak = map(int, out.stdout.split())
    return rows, peak


def test_a_merge_holds_the_same_memory_for_a_partition_four_times_larger(tmp_path, monkeypatch):
    """Even as one part file: memory is a few runs' row groups and one part row group, not the partition."""
    monkeypatch.setattr("stages.shards.RUN_GROUP_BYTES", GROUP_BYTES)
    small_rows, small = merge_peak(tmp_path, 8)
    large_rows, large = merge_peak(tmp_path, 32)
    assert (small_rows, large_rows) == (16_000, 64_000)
    assert large < 1.2 * small, (small, large)
