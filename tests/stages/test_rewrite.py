"""A rewrite holds a bounded batch, never a work file, and writes the same rows as one that held the file."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stages import rewrite
from stages.dedup.exact import run_exact_dedup
from stages.schema import WORK_SCHEMA
from stages.tasks import StageDirs

REPO = Path(__file__).parents[2]


def work_file(path: Path, docs: int, seed: int, in_order: bool) -> Path:
    """``docs`` documents of 200-600 characters, a third of them copies of another's text, ids in random order
    (as ingest writes them) or sorted (as every stage after it does)."""
    rng = np.random.default_rng(seed)
    ids = [f"{i * 2654435761 % 2**32:08x}{i:08x}" for i in range(docs)]  # unique, in no order
    texts = [
        f"doc {i % (2 * docs // 3)} " + "word " * int(rng.integers(40, 120)) for i in range(docs)
    ]
    table = pa.table(
        {name: pa.nulls(docs, WORK_SCHEMA.field(name).type) for name in WORK_SCHEMA.names}
    )
    table = table.set_column(0, "id", pa.array(ids)).set_column(1, "text", pa.array(texts))
    hashes = pa.array([hash(t) % 2**63 for t in texts], pa.uint64())
    table = table.set_column(table.schema.get_field_index("text_hash"), "text_hash", hashes)
    table = table.cast(WORK_SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.sort_by("id") if in_order else table, path, row_group_size=500)
    return path


def exact_dedup(tmp_path: Path, name: str) -> tuple[pa.Table, pa.Table]:
    dirs = StageDirs(
        tmp_path / "in", tmp_path / name, tmp_path / f"{name}-removed", tmp_path / f"{name}-tmp"
    )
    run_exact_dedup(dirs, tasks=1)
    name = "ingest-00000-0000.parquet"
    return pq.read_table(dirs.out / name), pq.read_table(dirs.removed / "stage=exact_dedup" / name)


@pytest.mark.parametrize("in_order", [False, True])
def test_a_rewrite_transforms_a_bounded_batch_and_writes_the_rows_of_one_that_held_the_file(
    tmp_path, monkeypatch, in_order
):
    work_file(tmp_path / "in/ingest-00000-0000.parquet", 3000, seed=1, in_order=in_order)
    whole = exact_dedup(tmp_path, "whole")  # one batch: the file, as the rewrite held it before

    monkeypatch.setattr(rewrite, "BATCH_BYTES", 64 * 1024)
    monkeypatch.setattr(rewrite, "READ_ROWS", 50)
    seen, runs = [], []
    real_batches, real_write_run = rewrite.work_batches, rewrite.write_run
    monkeypatch.setattr(
        rewrite,
        "work_batches",
        lambda *a: (seen.append(t.nbytes) or t for t in real_batches(*a)),
    )
    monkeypatch.setattr(
        rewrite,
        "write_run",
        lambda tables, path, schema: runs.append(path) or real_write_run(tables, path, schema),
    )
    batched = exact_dedup(tmp_path, "batched")

    assert len(seen) > 10
    longest_read = 50 * 700  # a read of READ_ROWS rows can pass the bound by at most itself
    assert max(seen) <= 64 * 1024 + longest_read
    assert (
        bool(runs) != in_order
    )  # sorted input goes straight through; unsorted is merged from runs
    for table_whole, table_batched in zip(whole, batched):
        assert table_batched.num_rows == table_whole.num_rows > 0
        assert table_batched.equals(table_whole)
    out = pq.ParquetFile(tmp_path / "batched/ingest-00000-0000.parquet")
    assert out.num_row_groups > 1  # written in bounded row groups too
    assert not list((tmp_path / "batched-tmp/rewrite").glob("**/*.parquet"))  # runs are cleared


MEMORY = """
import sys
from pathlib import Path
import pyarrow as pa
import stages.sorted_runs
from stages import rewrite
from stages.dedup.exact import run_exact_dedup
from stages.tasks import StageDirs
rewrite.BATCH_BYTES = 1 << 20
stages.sorted_runs.RUN_GROUP_BYTES = 1 << 16  # a merge holds a row group of each run: small, as in a big file

root = Path(sys.argv[1])
run_exact_dedup(StageDirs(root / "in", root / "out", root / "removed", root / "tmp"), tasks=1)
print(pa.default_memory_pool().max_memory())
"""


def rewrite_peak(root: Path, docs: int) -> int:
    """The Arrow pool's peak bytes of exact dedup over one unsorted work file of ``docs`` documents, in a fresh
    process, with 1 MiB batches."""
    work_file(root / "in/ingest-00000-0000.parquet", docs, seed=docs, in_order=False)
    out = subprocess.run(
        [sys.executable, "-c", MEMORY, str(root)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    return int(out.stdout.split()[-1])


@pytest.mark.slow
def test_a_rewrite_holds_the_same_memory_for_a_file_four_times_larger(tmp_path):
    small = rewrite_peak(tmp_path / "small", 20_000)  # ~8 MB of text
    large = rewrite_peak(tmp_path / "large", 80_000)  # ~32 MB
    assert large < 1.3 * small, (small, large)
    assert large < 24 * 2**20, (
        large
    )  # below the file's 32 MB of text, of which the old rewrite held copies
