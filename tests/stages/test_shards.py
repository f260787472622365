"""The shard merge: bounded fan-in passes give the same files as one merge of every run."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stages.schema import SHARD_SCHEMA
from stages.shards import RUN_GROUP_BYTES, merge_partition, write_run


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
