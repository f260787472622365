"""A rerun checks the files of the stages it skips against what the manifest recorded, and redoes a stage whose
files are missing or changed, with every stage after it; `critmix verify` hashes every recorded file."""

import os
import shutil

import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from tests.conftest import TINY_CONFIG, tree_checksums


@pytest.fixture
def run(tiny_run, tmp_path, in_repo):
    """A copy of the session's finished tiny run, to damage."""
    return shutil.copytree(tiny_run, tmp_path / "run")


def curate(run, capsys) -> list[str]:
    assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(run)]) == 0
    return capsys.readouterr().err.splitlines()


def verify(run, capsys) -> tuple[int, list[str], list[str]]:
    code = main(["verify", "--run", str(run)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def first_shard(run):
    return sorted((run / "shards").rglob("*.parquet"))[0]


def rewrite_texts(path) -> None:
    """Rewrite a Parquet file as valid Parquet with every text replaced (same rows, same schema)."""
    import pyarrow as pa

    table = pq.read_table(path)
    texts = pa.array(["tampered " * 20] * table.num_rows, type=table.schema.field("text").type)
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", texts), path)


def test_a_tampered_shard_is_found_by_verify_and_redone_by_the_rerun(run, capsys):
    before = tree_checksums(run / "shards")
    shard = first_shard(run)
    rewrite_texts(shard)
    rel = str(shard.relative_to(run))
    code, out, err = verify(run, capsys)
    assert code == 1 and err == [
        f"critmix verify: {rel}: changed since it was written (stage shards)"
    ]
    lines = curate(run, capsys)
    assert (
        f"shards: {rel}: changed since it was written; redoing it and every stage after it" in lines
    )
    assert "shards: up to date, skipped" not in lines and "buckets: up to date, skipped" in lines
    assert tree_checksums(run / "shards") == before
    assert verify(run, capsys)[0] == 0


def test_a_truncated_work_file_reruns_its_stage_and_every_later_one(run, capsys):
    before = tree_checksums(run / "shards")
    work = sorted((run / "work/exact_dedup").glob("*.parquet"))[0]
    work.write_bytes(work.read_bytes()[: work.stat().st_size // 2])
    lines = curate(run, capsys)
    assert any(line.startswith(f"exact_dedup: {work.relative_to(run)}: changed") for line in lines)
    skipped = {line.split(":")[0] for line in lines if line.endswith("up to date, skipped")}
    assert skipped == {"ingest"}  # every stage from exact_dedup on ran again
    assert not any("Traceback" in line or "ArrowInvalid" in line for line in lines)
    assert tree_checksums(run / "shards") == before


def test_a_missing_removed_file_reruns_ingest(run, capsys):
    removed = sorted((run / "removed/stage=read").glob("*.parquet"))[0]
    removed.unlink()
    lines = curate(run, capsys)
    assert (
        f"ingest: {removed.relative_to(run)}: missing; redoing it and every stage after it" in lines
    )
    assert removed.exists() and not any(line.endswith("up to date, skipped") for line in lines)


def test_a_rewrite_with_size_and_mtime_put_back_passes_the_rerun_but_not_verify(run, capsys):
    """The rerun's cheap check trusts sizes and mtimes; only `critmix verify` reads every byte."""
    edges = run / "work/buckets/edges.json"
    stat = edges.stat()
    edges.write_text(edges.read_text().replace('"low"', '"LOW"'))  # same size
    os.utime(edges, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "buckets: up to date, skipped" in curate(run, capsys)
    code, _, err = verify(run, capsys)
    assert code == 1
    assert err == [
        "critmix verify: work/buckets/edges.json: changed since it was written (stage buckets)"
    ]


def test_verify_of_an_intact_run_counts_every_file_of_every_stage(run, capsys):
    code, out, err = verify(run, capsys)
    files = [p for p in run.rglob("*") if p.is_file() and p.parts[len(run.parts)] != "logs"]
    recorded = [
        p for p in files if p.parts[len(run.parts)] in ("work", "removed", "shards", "models")
    ]
    assert (code, err) == (0, [])
    assert out == [f"{len(recorded)} files of 6 stages as written in {run}"]
