"""Exact deduplication on the hash of normalized text, as executor tasks over hash ranges.

The survivor of each group of identical texts is the document with the smallest id, whatever
the order, the split into files or the worker count. A count of the input (one task,
``stages.tasks.counting_phase``), then three phases:
  1. keys (a task per input file): each document's (text_hash, id, file) goes to the hash range
     that owns its hash;
  2. groups (a task per hash range, or several ranges per task): the groups of identical hashes in its range, and for each
     member its survivor, written per input file (only documents in a group of two or more);
  3. rewrite (a task per input file): members of a group get ``dup_cluster = "exact:<survivor>"``,
     the non-survivors go to removed/.
Memory: a groups task holds one range's (hash, id, file) rows at a time. There are at least as many ranges
as tasks, and more when the corpus needs them (``stages.tasks.hash_ranges``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stages.rewrite import rewrite_work_files, split_removed
from stages.tasks import (
    Phase,
    StageDirs,
    counting_phase,
    hash_ranges,
    my_share,
    range_files,
    read_tables,
    run_inline,
    write_by_range,
    write_table,
)

STAGE = "exact_dedup"


@dataclass
class ExactDedupConfig:
    enabled: bool = True
    docs_per_range: int = (
        4_000_000  # documents per hash range: what one groups task holds at a time
    )


def phases(dirs: StageDirs, config: ExactDedupConfig, tasks: int) -> list[Phase]:
    keys, groups = dirs.scratch / "keys", dirs.scratch / "groups"

    def ranges(world_size: int) -> int:
        return hash_ranges(dirs, world_size, config.docs_per_range)

    def write_keys(rank: int, world_size: int) -> dict:
        key_ranges_here = ranges(world_size)
        for path in my_share(dirs.input_files(), rank, world_size):
            table = pq.read_table(path, columns=["text_hash", "id"])
            write_by_range(
                table.append_column("file", pa.array([path.name] * table.num_rows, pa.string())),
                "text_hash",
                key_ranges_here,
                keys,
                path.name,
            )
        return {}

    def find_groups(rank: int, world_size: int) -> dict:
        for key_range in range(rank, ranges(world_size), world_size):
            files = range_files(keys, key_range)
            if files:
                write_groups(pa.concat_tables(pq.read_table(p) for p in files), groups, key_range)
        return {}

    def rewrite(rank: int, world_size: int) -> dict:
        return rewrite_work_files(
            my_share(dirs.input_files(), rank, world_size),
            dirs,
            STAGE,
            lambda path: partial(mark_duplicates, members=read_tables(groups / path.stem)),
        )

    return [
        counting_phase(STAGE, dirs),
        Phase(f"{STAGE}/keys", write_keys, tasks),
        Phase(f"{STAGE}/groups", find_groups, tasks),
        Phase(f"{STAGE}/rewrite", rewrite, tasks),
    ]


def write_groups(table: pa.Table, groups: Path, key_range: int) -> None:
    """One hash range's groups of two or more identical texts: each member's survivor, per input file."""
    survivors = table.group_by("text_hash").aggregate([("id", "min"), ("id", "count")])
    survivors = survivors.filter(pc.greater(survivors["id_count"], 1)).select(
        ["text_hash", "id_min"]
    )
    members = table.join(
        survivors.rename_columns(["text_hash", "survivor_id"]), "text_hash", join_type="inner"
    )
    for name in pc.unique(members["file"]).to_pylist():
        in_file = (
            members.filter(pc.equal(members["file"], name))
            .select(["id", "survivor_id"])
            .sort_by("id")
        )
        write_table(in_file, groups / Path(name).stem / f"range-{key_range:05d}.parquet")


def mark_duplicates(table: pa.Table, members: pa.Table | None) -> tuple[pa.Table, pa.Table | None]:
    if members is None:  # no document of this file has a copy
        return table, None
    joined = table.join(members, "id", join_type="left outer")
    in_group = pc.is_valid(joined["survivor_id"])
    cluster = pc.if_else(
        in_group,
        pc.binary_join_element_wise("exact:", joined["survivor_id"], ""),
        joined["dup_cluster"],
    )
    joined = joined.set_column(joined.schema.get_field_index("dup_cluster"), "dup_cluster", cluster)
    removed = pc.fill_null(pc.not_equal(joined["id"], joined["survivor_id"]), False)
    return split_removed(joined, removed, table.column_names, "duplicate")


def run_exact_dedup(
    dirs: StageDirs, tasks: int = 2, config: ExactDedupConfig = ExactDedupConfig()
) -> dict[str, int]:
    return run_inline(phases(dirs, config, tasks))
