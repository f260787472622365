import json

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from core.errors import ConfigError
from stages.buckets import BucketConfig, run_buckets
from stages.quality.scoring import QualityConfig, run_quality
from stages.schema import SHARD_SCHEMA
from stages.shards import write_shards
from stages.tasks import StageDirs
from tests.stages.quality.quality_synth import build


def curate_to_shards(tmp_path, inputs_dir, paths, name):
    scored, bucketed = tmp_path / f"{name}/quality", tmp_path / f"{name}/buckets"
    scored.mkdir(parents=True), bucketed.mkdir(parents=True)
    config = QualityConfig(
        positives=["wikipedia"],
        negative_paths=[str(paths["spam"] / "*.jsonl")],
        cache_dir=str(tmp_path / "cache"),
    )
    scratch = tmp_path / f"{name}/scratch"
    run_quality(
        StageDirs(inputs_dir, scored, paths["removed"], scratch / "quality"),
        config,
        paths["models"],
    )
    counters = run_buckets(
        StageDirs(scored, bucketed, paths["removed"], scratch / "buckets"), BucketConfig()
    )
    write_shards(
        StageDirs(bucketed, tmp_path / f"{name}/shards", paths["removed"], scratch / "shards")
    )
    return tmp_path / f"{name}/shards", counters, json.loads((bucketed / "edges.json").read_text())


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("buckets")
    paths = build(tmp_path)
    return (*curate_to_shards(tmp_path, paths["ingest"], paths, "run"), tmp_path, paths)


def test_tiers_split_each_domain_by_its_own_quantiles(shards):
    root, counters, edges = shards[:3]
    table = ds.dataset(root, format="parquet").to_table()
    assert sum(counters.values()) == table.num_rows == 120
    for domain in ("general", "chat"):
        rows = [r for r in table.to_pylist() if r["domain"] == domain]
        for tier, (low, high) in zip(["low", "mid", "high"], [(-1, 0), (0, 1), (1, 2)]):
            in_tier = [r for r in rows if r["quality_tier"] == tier]
            assert abs(len(in_tier) - 20) <= 1  # 60 documents in thirds
            bounds = [-1.0] + edges["edges"][domain] + [2.0]
            assert all(
                bounds[low + 1] <= r["quality_score"] < bounds[high + 1]
                or r["quality_score"] == bounds[high + 1]
                for r in in_tier
            )


def test_length_buckets_follow_the_token_edges(shards):
    table = ds.dataset(shards[0], format="parquet").to_table().to_pylist()
    expected = {
        r["id"]: "short"
        if r["n_tokens_est"] < 256
        else "medium"
        if r["n_tokens_est"] < 2048
        else "long"
        for r in table
    }
    assert {r["id"]: r["length_bucket"] for r in table} == expected
    assert set(expected.values()) == {"short", "medium", "long"}


def test_shards_have_the_schema_and_are_sorted_by_id(shards):
    files = sorted(shards[0].glob("domain=*/quality=*/part-*.parquet"))
    assert len(files) == 6
    for path in files:
        table = pq.read_table(path, partitioning=None)
        assert table.schema.equals(SHARD_SCHEMA)
        assert table["id"].to_pylist() == sorted(table["id"].to_pylist())
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
        domain, tier = path.parent.parent.name.split("=")[1], path.parent.name.split("=")[1]
        assert set(table["domain"].to_pylist()) == {domain} and set(
            table["quality_tier"].to_pylist()
        ) == {tier}


def test_duckdb_pyarrow_and_datasets_read_the_hive_layout_as_is(shards):
    root = shards[0]
    hive = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    assert hive.num_rows == 120 and hive["quality"].to_pylist() == hive["quality_tier"].to_pylist()
    rows = duckdb.sql(
        f"SELECT count(*), count(DISTINCT domain), bool_and(quality = quality_tier) "
        f"FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()[0]
    assert rows == (120, 2, True)
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("parquet", data_dir=str(root), split="train")
    assert loaded.num_rows == 120 and set(SHARD_SCHEMA.names) <= set(loaded.column_names)


def test_shards_are_byte_identical_however_the_input_was_split(shards):
    root, _, _, tmp_path, paths = shards
    merged = tmp_path / "merged/merged.parquet"
    merged.parent.mkdir()
    pq.write_table(
        pa.concat_tables(pq.read_table(p) for p in sorted(paths["ingest"].glob("*.parquet"))),
        merged,
    )
    other = curate_to_shards(tmp_path, merged.parent, paths, "one-file")[0]
    files = sorted(p.relative_to(root) for p in root.rglob("*.parquet"))
    assert files == sorted(p.relative_to(other) for p in other.rglob("*.parquet"))
    assert all((root / f).read_bytes() == (other / f).read_bytes() for f in files)


def test_bad_edges_say_what_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="tier_quantiles must be 2 increasing"):
        run_buckets(
            StageDirs(tmp_path, tmp_path, tmp_path, tmp_path), BucketConfig(tier_quantiles=[0.5])
        )


def test_tied_tier_edges_are_named_with_what_to_do():
    from stages.buckets import tied_tiers

    tiers = ["low", "mid", "high"]
    assert tied_tiers({"legal": [0.41, 0.73]}, tiers) == []
    lines = tied_tiers({"legal": [1.0, 1.0], "web": [0.2, 0.2], "code": [0.3, 0.6]}, tiers)
    assert len(lines) == 2 and lines[0].startswith("domain legal:") and "web" in lines[1]
    assert all("curate.quality.positives" in line for line in lines)
