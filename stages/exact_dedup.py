"""Exact deduplication on the hash of normalized text.

A global step: the survivor of each group of identical texts is the document with the smallest
id, whatever the order or worker count. Memory holds one (hash, id) pair per document (about
40 bytes + id length), so 100M documents need about 5 GB; larger corpora shard by hash first.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stages.writers import rewrite_work_files, split_removed

STAGE = "exact_dedup"


@dataclass
class ExactDedupConfig:
    enabled: bool = True


def survivor_table(inputs: list[Path]) -> pa.Table:
    """Per text hash: the surviving id and the group size."""
    keys = pa.concat_tables(pq.read_table(p, columns=["text_hash", "id"]) for p in inputs)
    groups = keys.group_by("text_hash").aggregate([("id", "min"), ("id", "count")])
    return groups.rename_columns(["text_hash", "survivor_id", "group_size"])


def mark_duplicates(table: pa.Table, survivors: pa.Table) -> tuple[pa.Table, pa.Table]:
    joined = table.join(survivors, "text_hash", join_type="left outer")
    in_group = pc.greater(joined["group_size"], 1)
    cluster = pc.if_else(in_group, pc.binary_join_element_wise("exact:", joined["survivor_id"], ""), joined["dup_cluster"])
    joined = joined.set_column(joined.schema.get_field_index("dup_cluster"), "dup_cluster", cluster)
    return split_removed(joined, pc.not_equal(joined["id"], joined["survivor_id"]), table.column_names, "duplicate")


def run_exact_dedup(inputs: list[Path], out_dir: Path, removed_dir: Path) -> dict[str, int]:
    survivors = survivor_table(inputs)
    return rewrite_work_files(inputs, out_dir, removed_dir, STAGE, lambda t: mark_duplicates(t, survivors))
