import json
import os
import subprocess
import sys

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.rundir import RunDir, RunInUse, tree_checksums
from tests.conftest import TINY_CONFIG


def test_counts_conserved_per_source(tiny_run):
    counts = json.loads((tiny_run / "manifest.json").read_text())["counts"]
    # stories: 15 lines = 12 kept + 1 exact duplicate + 1 empty + 1 broken JSON line
    assert counts["stories"] == {"in": 15, "kept": 12, "removed": 3}
    assert counts["licences"] == {"in": 9, "kept": 8, "removed": 1}


def test_shards_are_hive_partitioned_with_carried_ids(tiny_run):
    files = sorted(tiny_run.glob("shards/domain=*/quality=*/part-*.parquet"))
    assert {f.parent.parent.name for f in files} == {"domain=general", "domain=legal"}
    table = pq.read_table(files[0])
    ids = table["id"].to_pylist()
    assert ids == sorted(ids)
    general = pq.read_table(tiny_run / "shards/domain=general").to_pylist()
    assert {row["id"] for row in general} == {f"story-{i}" for i in range(12)}


def test_removed_records_stage_and_reason(tiny_run):
    removed = ds.dataset(tiny_run / "removed", partitioning="hive").to_table(columns=["source", "stage", "reason"]).to_pylist()
    reasons = sorted((r["source"], r["stage"], r["reason"]) for r in removed)
    assert reasons == [
        ("licences", "exact_dedup", "duplicate"),
        ("stories", "exact_dedup", "duplicate"),
        ("stories", "normalize", "empty"),
        ("stories", "read", "invalid_json"),
    ]


def test_rerun_is_a_noop_that_says_so(tiny_run, capsys):
    before = tree_checksums(tiny_run / "shards")
    assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(tiny_run)]) == 0
    assert "up to date, skipped" in capsys.readouterr().err
    assert tree_checksums(tiny_run / "shards") == before


def test_resolved_config_and_manifest_saved(tiny_run):
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert (tiny_run / "config.yaml").exists()
    assert set(manifest) >= {"config", "config_hash", "packages", "inputs", "stages", "counts"}
    assert manifest["stages"]["shards"]["outputs"]


@pytest.mark.slow
def test_shards_identical_for_one_and_two_workers(tmp_path, in_repo):
    runs = []
    for workers in (1, 2):
        run = tmp_path / f"w{workers}"
        assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(run), "--workers", str(workers)]) == 0
        runs.append(tree_checksums(run / "shards"))
    assert runs[0] == runs[1]


def test_second_curate_on_a_run_in_use_is_refused(tmp_path):
    with RunDir(tmp_path / "r"):
        with pytest.raises(RunInUse, match="in use by process"):
            with RunDir(tmp_path / "r"):
                pass


def test_stale_lock_of_a_dead_process_is_cleared(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "r").mkdir()
    (tmp_path / "r/.lock").write_text(dead.stdout.strip())
    with RunDir(tmp_path / "r") as run:
        assert (run.path / ".lock").read_text() == str(os.getpid())


def test_source_matching_no_file_stops_before_writing(tmp_path, in_repo, capsys):
    run = tmp_path / "r"
    code = main(["curate", "--config", str(TINY_CONFIG), "--run", str(run), "--source", "x:legal:nothing/*.jsonl"])
    assert code == 2
    assert "source 'x': no file matches" in capsys.readouterr().err
    assert not (run / "work").exists() and not (run / "shards").exists()


def test_a_run_directory_that_cannot_be_one_stops_before_writing(tmp_path, in_repo, capsys):
    (tmp_path / "file").write_text("not a directory")
    assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(tmp_path / "file/run")]) == 2
    assert "pass --run a directory path" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
