"""The conservation check: every document read is in the shards or under ``removed/``."""

from __future__ import annotations

from pathlib import Path

from core.errors import CritmixError
from core.files import finished_files
from pipeline.rundir import RunDir
from stages.tasks import add_counters


class CountMismatch(CritmixError):
    """Documents went missing or were duplicated between reading and writing; ``--force`` redoes the run."""


def count_by_source(root: Path) -> dict[str, int]:
    """Documents per source in the Parquet files under ``root``, a batch at a time (the main process holds no corpus)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    counts: dict[str, int] = {}
    files = [str(p) for p in finished_files(root)]
    try:
        for batch in (
            ds.dataset(files, format="parquet").to_batches(columns=["source"]) if files else []
        ):
            values = batch.column(0).value_counts()
            add_counters(
                counts,
                dict(zip(values.field("values").to_pylist(), values.field("counts").to_pylist())),
            )
    except (
        pa.ArrowInvalid,
        OSError,
    ) as err:  # a file cut short or overwritten after it was written
        raise CountMismatch(
            f"a file under {root} is not readable Parquet ({str(err).splitlines()[0]}); rerun with --force"
        ) from None
    return counts


def check_counts(run: RunDir) -> dict:
    """docs in = docs kept + docs removed, per source; raises if any document went missing."""
    read = run.manifest["stages"]["ingest"]["counters"]["read"]
    kept, removed = count_by_source(run / "shards"), count_by_source(run / "removed")
    table = {
        s: {"in": n, "kept": kept.get(s, 0), "removed": removed.get(s, 0)}
        for s, n in sorted(read.items())
    }
    wrong = {s: c for s, c in table.items() if c["in"] != c["kept"] + c["removed"]}
    if wrong:
        raise CountMismatch(
            f"documents lost or duplicated (in != kept + removed): {wrong}; rerun with --force"
        )
    return table


def removal_warnings(run: RunDir, table: dict, share: float) -> list[str]:
    """A line for each stage that removed more than ``share`` of a source's documents, with the config
    key of its settings: a filter that suits one source may empty another, and nothing else says so."""
    lines = []
    for folder in sorted((run / "removed").glob("stage=*")):
        stage = folder.name.removeprefix("stage=")
        why = (
            "records its reader could not use (critmix explain says why)"
            if stage == "read"
            else f"curate.{stage} sets what it removes"
        )
        for source, removed in sorted(count_by_source(folder).items()):
            read = table[source]["in"]
            if removed > share * read:
                lines.append(
                    f"{stage} removed {removed:,} of {read:,} documents of source {source} "
                    f"({removed / read:.0%}): {why} "
                    f"(curate.warn_removed_share={share} sets when this is said)"
                )
    return lines
