"""A curate run killed with SIGKILL anywhere and run again gives the same shards."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from pipeline.rundir import tree_checksums

WORDS = "river mill market farmer letter garden lake spring bread wheel water morning house children".split()


def write_corpus(root, files=8, docs=400):
    rng = random.Random(0)
    root.mkdir(parents=True)
    for f in range(files):
        with (root / f"part{f}.jsonl").open("w") as handle:
            for d in range(docs):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 400)))
                handle.write(json.dumps({"text": text if d % 10 else "duplicate text"}) + "\n")


def curate(run, corpus, cwd):
    """Start ``critmix curate`` in its own process group; its stderr goes to ``<run>.log``."""
    cmd = [sys.executable, "-m", "pipeline", "curate", "--config", "tests/data/tiny/config.yaml", "--run", str(run),
           "--set", "sources=[]", "--source", f"synthetic:general:{corpus}/*.jsonl", "--set", "curate.tasks=8",
           "--set", "curate.quality.enabled=false"]  # the synthetic corpus has no reference set
    log = open(f"{run}.log", "ab")
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)


def finish(run, corpus, cwd):
    code = curate(run, corpus, cwd).wait()
    assert code == 0, open(f"{run}.log").read()[-3000:]


@pytest.mark.slow
def test_killed_runs_resume_to_identical_shards(tmp_path, in_repo):
    write_corpus(tmp_path / "corpus")
    reference = tmp_path / "reference"
    started = time.time()
    finish(reference, tmp_path / "corpus", in_repo)
    full = time.time() - started
    expected = tree_checksums(reference / "shards")
    rng = random.Random(1)
    run = tmp_path / "killed"
    for attempt in range(4):  # kill at random points, each attempt resuming the previous one's leftovers
        proc = curate(run, tmp_path / "corpus", in_repo)
        time.sleep(rng.uniform(0.3, full))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for path in run.glob("**/*.parquet"):  # whatever is visible under a final name is whole
            pq.read_metadata(path)
    finish(run, tmp_path / "corpus", in_repo)
    assert tree_checksums(run / "shards") == expected
    counts = json.loads((run / "manifest.json").read_text())["counts"]["synthetic"]
    assert counts["in"] == counts["kept"] + counts["removed"] == 3200


def test_disk_full_is_a_clear_error_and_the_run_resumes(tmp_path, in_repo, monkeypatch, capsys):
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
    assert main(args) == 1
    assert "free disk space" in capsys.readouterr().err
    assert not list((tmp_path / "run").glob("shards/**/*.parquet"))
    monkeypatch.setattr(stages.writers.os, "replace", real_replace)
    assert main(args) == 0
    assert "exact_dedup: up to date, skipped" in capsys.readouterr().err  # finished stages were kept
    assert list((tmp_path / "run").glob("shards/**/*.parquet"))
