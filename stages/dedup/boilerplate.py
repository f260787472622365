"""Line- or paragraph-level exact dedup of boilerplate repeated across many documents (off by default).

A unit (a line, or a paragraph between blank lines) that appears in at least ``min_docs``
documents is boilerplate: navigation, licence headers, "All rights reserved.", mailing-list
footers. It stays in one document, the one with the smallest id (a stable rule, so the output
does not depend on worker count or file order), and is stripped from every other. Units shorter
than ``min_chars`` never count: short lines such as "Returns:" or "}" carry structure, not
boilerplate. ``domains`` limits it to prose: in code, the lines shared by many files are imports. A document left empty is removed with reason ``empty_after_strip``; a changed one
gets a new ``text_hash``, ``n_chars`` and ``meta.boilerplate_units_stripped``.

Why a stage of its own and not a per-document step: whether a line is boilerplate depends on
every other document, and the per-document steps see one slice of the input each. It runs right after ingest, before exact
dedup, so documents that differ only in boilerplate become exact duplicates.

Executor tasks, as exact dedup: a task per input file writes each document's (unit hash, id)
pairs by hash range; a task per range (or several: ``docs_per_range``) counts its units; a task per file
strips. Memory: a keepers task holds one range's pairs at a time (about 40 bytes + id length each); a strip
task holds only the boilerplate units.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from core.files import finished_files
from stages.ingest.normalize import text_hash
from stages.rewrite import rewrite_work_files, work_batches
from stages.schema import estimate_tokens
from stages.tasks import (
    Phase,
    StageDirs,
    counting_phase,
    hash_ranges,
    my_share,
    range_files,
    run_inline,
    write_by_range,
    write_table,
)

STAGE = "boilerplate"
SEPARATORS = {"line": "\n", "paragraph": "\n\n"}


@dataclass
class BoilerplateConfig:
    enabled: bool = False
    unit: Literal["line", "paragraph"] = "line"
    min_docs: int = 10  # a unit found in at least this many documents is boilerplate
    min_chars: int = 20  # shorter units are never boilerplate
    domains: list[str] = field(default_factory=list)  # domains it reads and strips; empty: all
    docs_per_range: int = (
        250_000  # documents per unit-hash range (a keepers task holds ~15 units of each at a time)
    )


def unit_keys(text: str, config: BoilerplateConfig) -> list[int | None]:
    """A hash per unit of ``text``, or None for a unit too short to count."""
    return [
        xxhash.xxh64_intdigest(key) if len(key := unit.strip()) >= config.min_chars else None
        for unit in text.split(SEPARATORS[config.unit])
    ]


def in_domains(table: pa.Table, config: BoilerplateConfig) -> pa.Table:
    if not config.domains:
        return table
    return table.filter(pc.is_in(table["domain"], pa.array(config.domains, pa.string())))


def write_units(path: Path, units_dir: Path, ranges: int, config: BoilerplateConfig) -> None:
    """Pass 1, per input file: each document's distinct long-enough units, as (unit hash, id) by hash range. The
    text is read a batch at a time; the file's units (a hash and an id each) are held until written."""
    units = []
    for batch in work_batches(path, ["id", "text", "domain"]):
        table = in_domains(batch, config)
        hashes: list[int] = []
        ids: list[str] = []
        for doc_id, text in zip(table["id"].to_pylist(), table["text"].to_pylist()):
            distinct = {key for key in unit_keys(text, config) if key is not None}
            hashes.extend(distinct)
            ids.extend([doc_id] * len(distinct))
        units.append(
            pa.table({"unit": pa.array(hashes, pa.uint64()), "id": pa.array(ids, pa.string())})
        )
    if units:
        write_by_range(pa.concat_tables(units), "unit", ranges, units_dir, path.name)


def find_keepers(files: list[Path], config: BoilerplateConfig) -> pa.Table:
    """Pass 2, per hash range: the boilerplate units in it and the id of the one document that keeps each."""
    groups = (
        pa.concat_tables(pq.read_table(p) for p in files)
        .group_by("unit")
        .aggregate([("id", "count"), ("id", "min")])
    )
    return groups.filter(pc.greater_equal(groups["id_count"], config.min_docs)).select(
        ["unit", "id_min"]
    )


def read_keepers(keepers_dir: Path) -> dict[int, str]:
    tables = [pq.read_table(p) for p in finished_files(keepers_dir, "*.parquet")]
    return {k: v for t in tables for k, v in zip(t["unit"].to_pylist(), t["id_min"].to_pylist())}


def strip_units(
    text: str, doc_id: str, keepers: dict[int, str], config: BoilerplateConfig
) -> tuple[str, int]:
    """The text without the boilerplate units another document keeps, and how many went."""
    units = text.split(SEPARATORS[config.unit])
    kept = [
        unit
        for unit, key in zip(units, unit_keys(text, config))
        if key is None or keepers.get(key, doc_id) == doc_id
    ]
    return SEPARATORS[config.unit].join(kept).strip(), len(units) - len(kept)


def strip_table(
    table: pa.Table, keepers: dict[int, str], config: BoilerplateConfig, counters: dict
) -> tuple[pa.Table, pa.Table]:
    """Pass 2 over one work file: rows with boilerplate stripped; rows left empty are removed."""
    kept_rows, removed_rows = [], []
    domains = frozenset(config.domains)
    for row in table.to_pylist():
        if domains and row["domain"] not in domains:
            kept_rows.append(row)
            continue
        text, stripped = strip_units(row["text"], row["id"], keepers, config)
        if stripped:
            counters["units_stripped"] = counters.get("units_stripped", 0) + stripped
            counters["docs_changed"] = counters.get("docs_changed", 0) + 1
            meta = dict(json.loads(row["meta"] or "{}"), boilerplate_units_stripped=stripped)
            row["meta"] = json.dumps(meta, sort_keys=True, ensure_ascii=False, default=str)
        if not text:
            removed_rows.append(dict(row, reason="empty_after_strip"))
            continue
        if stripped:
            row.update(
                text=text,
                text_hash=text_hash(text),
                n_chars=len(text),
                n_tokens_est=estimate_tokens(len(text)),
            )
        kept_rows.append(row)
    removed_schema = table.schema.append(pa.field("reason", pa.string()))
    return pa.Table.from_pylist(kept_rows, schema=table.schema), pa.Table.from_pylist(
        removed_rows, schema=removed_schema
    )


def phases(dirs: StageDirs, config: BoilerplateConfig, tasks: int) -> list[Phase]:
    """count (one task) -> units (a task per input file) -> keepers (a task per unit-hash range) -> strip (a task per input file)."""
    units_dir, keepers_dir = dirs.scratch / "units", dirs.scratch / "keepers"

    def units(rank: int, world_size: int) -> dict:
        ranges = hash_ranges(dirs, world_size, config.docs_per_range)
        for path in my_share(dirs.input_files(), rank, world_size):
            write_units(path, units_dir, ranges, config)
        return {}

    def keepers(rank: int, world_size: int) -> dict:
        found = 0
        for unit_range in range(
            rank, hash_ranges(dirs, world_size, config.docs_per_range), world_size
        ):
            files = range_files(units_dir, unit_range)
            table = find_keepers(files, config) if files else None
            if table is not None and table.num_rows:
                write_table(table, keepers_dir / f"range-{unit_range:05d}.parquet")
                found += table.num_rows
        return {"boilerplate_units": found}

    def strip(rank: int, world_size: int) -> dict:
        found = read_keepers(keepers_dir)
        counters: dict[str, int] = {}
        counters.update(
            rewrite_work_files(
                my_share(dirs.input_files(), rank, world_size),
                dirs,
                STAGE,
                lambda path: lambda table: strip_table(table, found, config, counters),
            )
        )
        return counters

    return [
        counting_phase(STAGE, dirs),
        Phase(f"{STAGE}/units", units, tasks),
        Phase(f"{STAGE}/keepers", keepers, tasks),
        Phase(f"{STAGE}/strip", strip, tasks),
    ]


def run_boilerplate(dirs: StageDirs, config: BoilerplateConfig, tasks: int = 2) -> dict[str, int]:
    return run_inline(phases(dirs, config, tasks))
