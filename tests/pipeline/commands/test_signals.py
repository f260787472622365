"""SIGTERM and SIGINT sent to `critmix curate`, `plan` and `export` (the process alone, as `kill` sends them)
reach every process the command started; the command exits 143 or 130 with one line and no traceback, and
leaves no child behind. (`critmix train` with the real trainer: test_train_signals.py.)

The children are made to hang where the signal must find them: a task process inside its task, pilots as
stand-in trainers that record their pid and wait. A wrapper patches them in before the command runs."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from pipeline.cli import main
from tests.conftest import REPO, TINY_CONFIG
from tests.trainer.conftest import two_domain_phase
from trainer.curriculum import Curriculum, write_curriculum

STOPS = [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]

# Task processes are forked (not from the forkserver), so that they inherit the patched task: curate's
# reader, export's tokenizer, which records the task process's pid and hangs in the task.
HANGING = """
import os, sys, time
import pipeline.executors.local as local
local.START_METHOD = "fork"
def hang(*args, **kwargs):
    open(os.path.join(os.environ["CHILDREN"], str(os.getpid())), "w").close()
    time.sleep(3600)
"""
HANGING_TASK = (
    HANGING
    + """
from stages.ingest.readers import SourceReader
def hanging_reader(self, *args, **kwargs):
    hang()
    yield from ()
SourceReader.run = hanging_reader
from pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""
)
HANGING_EXPORT = (
    HANGING
    + """
from pipeline.export.tokenize import TokenizeTask
TokenizeTask.__call__ = hang
from pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""
)

# `python -m trainer <command>` replaced, for the commands that must hang, by a stand-in that records its
# pid and waits for a signal, which it answers as the trainer does (143 for SIGTERM, 130 for SIGINT); the
# other commands succeed at once.
STAND_IN_TRAINER = """
import os, signal, sys, time
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, lambda signum, frame: sys.exit(128 + signum))
open(os.path.join(os.environ["CHILDREN"], str(os.getpid())), "w").write(" ".join(sys.argv[1:]))
while True:
    time.sleep(1)
"""
HANGING_TRAINER = """
import sys
import pipeline.planning.trainer_runs as trainer_runs
def stand_in(*args):
    return [sys.executable, {stand_in!r}, *args] if args[0] in {hanging!r} else ["true"]
trainer_runs.trainer_command = stand_in
from pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def wait_for(condition, what: str, limit_s: float = 300) -> None:
    """Poll until ``condition()``; the limit only keeps a broken run from hanging the suite."""
    give_up = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(0.2)


def stop_while_children_wait(wrapper: str, args: list[str], children: Path, count: int, signum):
    """Run ``critmix ARGS`` under ``wrapper``, wait until ``count`` children have recorded their pid, send
    ``signum`` to the command alone; returns (the finished process, its stderr, the children's pids)."""
    children.mkdir()
    critmix = subprocess.Popen(
        [sys.executable, "-c", wrapper, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, CHILDREN=str(children), PYTHONPATH=str(REPO)),
    )
    wait_for(
        lambda: len(list(children.iterdir())) >= count or critmix.poll() is not None,
        f"{count} children",
    )
    critmix.send_signal(signum)
    _, err = critmix.communicate(timeout=300)
    return critmix, err, [int(p.name) for p in children.iterdir()]


def assert_stopped_with_one_line(critmix, err: str, command: str, code: int, word: str) -> None:
    assert critmix.returncode == code, err
    *progress, error = err.splitlines()  # the console's progress lines go to stderr too
    assert error.startswith(f"critmix {command}: {word}"), err
    assert "Traceback" not in err and not any(
        line.startswith(f"critmix {command}:") for line in progress
    ), err


def assert_gone(pids: list[int]) -> None:
    def gone(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    assert pids
    wait_for(lambda: all(gone(pid) for pid in pids), f"children {pids} to end")


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code", "word"), STOPS)
def test_a_signal_to_curate_stops_its_task_processes_and_the_run_resumes(
    tmp_path, in_repo, tiny_run, signum, code, word
):
    run = tmp_path / "run"
    args = ["curate", "--config", str(TINY_CONFIG), "--run", str(run)]
    critmix, err, pids = stop_while_children_wait(
        HANGING_TASK, args, tmp_path / "children", 1, signum
    )
    assert_stopped_with_one_line(critmix, err, "curate", code, word)
    assert_gone(pids)
    assert (
        main(args) == 0
    )  # the same command resumes and finishes, with the counts of an unbroken run
    counts = json.loads((run / "manifest.json").read_text())["counts"]
    assert counts == json.loads((tiny_run / "manifest.json").read_text())["counts"]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code", "word"), STOPS)
def test_a_signal_to_plan_reaches_every_pilot_and_starts_no_other(
    tmp_path, tiny_run, signum, code, word
):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    (tmp_path / "trainer.py").write_text(STAND_IN_TRAINER)
    base = tmp_path / "base"  # a given base model: the plan goes straight to the pilots
    base.mkdir()
    (base / "config.json").write_text("{}")
    args = [
        "plan",
        "--config",
        str(TINY_CONFIG),
        "--run",
        str(run),
        "--set",
        f"plan.base_model={base}",
        "--set",
        "plan.pilots.parallel=2",
    ]
    critmix, err, pids = stop_while_children_wait(
        HANGING_TRAINER.format(stand_in=str(tmp_path / "trainer.py"), hanging=["train"]),
        args,
        tmp_path / "children",
        2,
        signum,
    )
    assert_stopped_with_one_line(critmix, err, "plan", code, word)
    assert len(pids) == 2  # the two running pilots, and no pilot after them
    assert_gone(pids)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code", "word"), STOPS)
def test_a_signal_to_export_stops_its_task_processes(tmp_path, tiny_run, signum, code, word):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    write_curriculum(Curriculum(phases=[two_domain_phase("base")]), tmp_path / "c.yaml")
    args = ["export", "--config", str(TINY_CONFIG), "--run", str(run), "--format", "megatron"]
    critmix, err, pids = stop_while_children_wait(
        HANGING_EXPORT,
        [*args, "--curriculum", str(tmp_path / "c.yaml")],
        tmp_path / "children",
        1,
        signum,
    )
    assert_stopped_with_one_line(critmix, err, "export", code, word)
    assert_gone(pids)
    assert not (run / "export/megatron").exists()
