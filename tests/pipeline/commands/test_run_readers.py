"""Readers of a run see a finished curate or are told, in one line: sql, explain, report, verify and export
refuse a run whose curate is in progress or stopped; `curate --force` keeps the previous outputs readable
until the new ones replace them."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from core.locks import lock_for_life, release
from pipeline.cli import main
from tests.conftest import REPO, TINY_CONFIG
from tests.pipeline.commands.test_signals import HANGING_TASK, wait_for

READERS = [
    ["sql", "SELECT count(*) FROM shards"],
    ["explain", "some-id"],
    ["report"],
    ["verify"],
    ["export", "--format", "megatron", "--config", str(TINY_CONFIG)],
]


@pytest.fixture
def unfinished(tiny_run, tmp_path, in_repo):
    """A copy of the tiny run as a curate leaves it while it works, or after it stopped: no counts yet."""
    run = shutil.copytree(tiny_run, tmp_path / "run")
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["counts"]
    manifest["stages"]["shards"]["status"] = "running"
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def refusal(args: list[str], run, capsys) -> str:
    assert main([*args, "--run", str(run)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("args", READERS, ids=lambda args: args[0])
def test_a_reader_is_told_the_run_is_being_curated(unfinished, capsys, args):
    lock = lock_for_life(unfinished / ".lock")  # as the curate at work holds it
    try:
        err = refusal(args, unfinished, capsys)
    finally:
        release(lock)
    assert f"{unfinished} is being curated by process {os.getpid()}; wait for it to finish" in err


@pytest.mark.parametrize("args", READERS, ids=lambda args: args[0])
def test_a_reader_is_told_the_last_curate_stopped_and_how_to_finish_it(unfinished, capsys, args):
    err = refusal(args, unfinished, capsys)
    assert f"the last curate of {unfinished} stopped before it finished; run `critmix curate" in err
    assert f"--run {unfinished}` to finish it" in err


def kept(run) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "sql",
            "SELECT count(*) AS n FROM shards",
            "--run",
            str(run),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_force_keeps_the_finished_outputs_readable_until_the_new_ones_replace_them(
    tiny_run, tmp_path, in_repo
):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    before = kept(run)
    args = ["curate", "--config", str(TINY_CONFIG), "--run", str(run), "--force"]
    children = tmp_path / "children"
    children.mkdir()
    forced = subprocess.Popen(
        [sys.executable, "-c", HANGING_TASK, *args],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, CHILDREN=str(children), PYTHONPATH=str(REPO)),
    )
    wait_for(lambda: any(children.iterdir()) or forced.poll() is not None, "the first task")
    assert kept(run) == before  # the new curate is at work: the previous outputs are read
    forced.send_signal(signal.SIGTERM)
    assert forced.wait(timeout=300) == 143, forced.stderr.read()
    assert kept(run) == before  # stopped: the previous outputs are still whole
    assert main(args) == 0
    assert kept(run) == before and not (run / ".force").exists()
    assert main(["verify", "--run", str(run)]) == 0
