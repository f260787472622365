"""A curate run killed with SIGKILL inside each stage and run again gives the same shards."""

import json
import os
import random
import signal
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import pipeline.executors.local as local_executor
from tests.conftest import tree_checksums
from tests.curate_process import curate_process, write_corpus


def finish(run, corpus, cwd):
    code = curate_process(run, corpus, cwd).wait()
    assert code == 0, open(f"{run}.log").read()[-3000:]


STAGES = [
    "ingest",
    "exact_dedup",
    "minhash",
    "buckets",
    "shards",
]  # quality is off: no reference set here


def kill_inside(stage, run, corpus, cwd, delay) -> bool:
    """Start a (resuming) run, SIGKILL it ``delay`` seconds into ``stage``; True if the stage was unfinished."""
    log = Path(f"{run}.log")
    offset = log.stat().st_size if log.exists() else 0
    proc = curate_process(run, corpus, cwd)
    while proc.poll() is None:
        if f"{stage}: running" in log.read_bytes()[offset:].decode(errors="replace"):
            time.sleep(delay)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return f"{stage}: done" not in log.read_bytes()[offset:].decode(errors="replace")
        time.sleep(0.005)
    return False


@pytest.mark.slow
def test_runs_killed_inside_each_stage_resume_to_identical_shards(tmp_path, in_repo):
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    reference = tmp_path / "reference"
    finish(reference, corpus, in_repo)
    expected = tree_checksums(reference / "shards")
    seconds = {
        name: entry["seconds"]
        for name, entry in json.loads((reference / "manifest.json").read_text())["stages"].items()
    }
    rng = random.Random(1)
    run = tmp_path / "killed"
    hit = []
    for stage in (
        STAGES
    ):  # each attempt resumes the previous one's leftovers, then dies inside the next stage
        if kill_inside(stage, run, corpus, in_repo, delay=rng.uniform(0, 0.5 * seconds[stage])):
            hit.append(stage)
        for path in run.glob("**/*.parquet"):  # whatever is visible under a final name is whole
            pq.read_metadata(path)
    finish(run, corpus, in_repo)
    assert tree_checksums(run / "shards") == expected
    counts = json.loads((run / "manifest.json").read_text())["counts"]["synthetic"]
    assert counts["in"] == counts["kept"] + counts["removed"] == 3200
    assert len(hit) >= 4, f"killed inside only {hit}"


def test_disk_full_is_a_clear_error_and_the_run_resumes(tmp_path, in_repo, monkeypatch, capfd):
    import errno

    import stages.writers
    from pipeline.cli import main
    from tests.conftest import TINY_CONFIG

    args = ["curate", "--config", str(TINY_CONFIG), "--run", str(tmp_path / "run")]
    real_replace = os.replace

    def full_disk(src, dst):
        if "shards" in str(dst):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(stages.writers.os, "replace", full_disk)
    monkeypatch.setattr(local_executor, "START_METHOD", "fork")  # the tasks inherit the patch
    assert main(args) == 1
    # One line, after the progress: no task's log of the error (a trace, in the task processes' stderr).
    *progress, error = capfd.readouterr().err.splitlines()
    assert error.startswith(
        "critmix curate: cannot write output: [Errno 28] No space left on device"
    )
    assert "free disk space" in error
    assert not [line for line in progress if "Traceback" in line or "ERROR" in line], progress
    assert not list((tmp_path / "run").glob("shards/**/*.parquet"))
    monkeypatch.setattr(stages.writers.os, "replace", real_replace)
    assert main(args) == 0
    assert "exact_dedup: up to date, skipped" in capfd.readouterr().err  # finished stages were kept
    assert list((tmp_path / "run").glob("shards/**/*.parquet"))


def test_a_stage_that_failed_in_one_task_resumes_at_that_task(tmp_path, in_repo, monkeypatch):
    import stages.dedup.minhash
    from pipeline.cli import main
    from tests.conftest import TINY_CONFIG

    reference = tmp_path / "reference"
    assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(reference)]) == 0
    run = tmp_path / "run"
    args = ["curate", "--config", str(TINY_CONFIG), "--run", str(run)]
    rewrite = stages.dedup.minhash.rewrite_work_files

    def second_file_fails(inputs, *rest):
        if any(p.name == "ingest-00001-0000.parquet" for p in inputs):
            raise RuntimeError("task 1 crashed")
        return rewrite(inputs, *rest)

    monkeypatch.setattr(stages.dedup.minhash, "rewrite_work_files", second_file_fails)
    monkeypatch.setattr(local_executor, "START_METHOD", "fork")  # the tasks inherit the patch
    with pytest.raises(
        RuntimeError, match="task 1 crashed"
    ):  # a bug, not a user error: it propagates
        main(args)
    first_task_output = run / "work/minhash/ingest-00000-0000.parquet"
    written = first_task_output.stat().st_mtime_ns
    assert sorted(p.name for p in (run / "logs/minhash/rewrite/completions").iterdir()) == ["00000"]
    monkeypatch.setattr(stages.dedup.minhash, "rewrite_work_files", rewrite)
    assert main(args) == 0
    assert first_task_output.stat().st_mtime_ns == written  # the finished task was not run again
    assert tree_checksums(run / "shards") == tree_checksums(reference / "shards")
