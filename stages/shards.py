"""The final write: Hive-partitioned shards ``domain=<d>/quality=<tier>/part-NNNNN.parquet``.

Rows are sorted by id within a partition and split into files of a fixed row count, so the
bytes written depend only on the documents, never on how many workers produced them. One
partition is sorted in memory: the largest domain × tier partition must fit in RAM.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from stages.schema import SHARD_SCHEMA, UNSCORED_TIER, WORK_SCHEMA
from stages.writers import ParquetSink

ROWS_PER_FILE = 100_000


def partition_values(dataset: ds.Dataset, column: str) -> list:
    values = dataset.to_table(columns=[column])[column]
    return sorted(pc.unique(pc.fill_null(values, UNSCORED_TIER)).to_pylist())


def write_shards(inputs: list[Path], shards_dir: Path, rows_per_file: int = ROWS_PER_FILE) -> dict[str, int]:
    """Write all kept documents as shards; returns documents per ``domain/tier``."""
    counters: dict[str, int] = {}
    if not inputs:
        return counters
    dataset = ds.dataset([str(p) for p in inputs], schema=WORK_SCHEMA, format="parquet")
    for domain in partition_values(dataset, "domain"):
        in_domain = dataset.filter(pc.field("domain") == domain)
        for tier in partition_values(in_domain, "quality_tier"):
            tier_filter = pc.field("quality_tier").is_null() if tier == UNSCORED_TIER else pc.field("quality_tier") == tier
            table = in_domain.to_table(filter=tier_filter, columns=SHARD_SCHEMA.names).sort_by("id")
            write_partition(table, shards_dir / f"domain={domain}" / f"quality={tier}", rows_per_file)
            counters[f"{domain}/{tier}"] = table.num_rows
    return counters


def write_partition(table: pa.Table, directory: Path, rows_per_file: int) -> None:
    for part, start in enumerate(range(0, table.num_rows, rows_per_file)):
        with ParquetSink(directory / f"part-{part:05d}.parquet", SHARD_SCHEMA) as sink:
            sink.write_table(table.slice(start, rows_per_file))
