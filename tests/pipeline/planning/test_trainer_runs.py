"""A trainer started in the instant a signal arrives stops too: the signal was passed on to the processes
there were, before this one existed, so run_trainer sends it on once the trainer has started."""

import signal
import subprocess
import sys

import pytest

import pipeline.planning.trainer_runs as trainer_runs
from core.errors import Terminated
from pipeline.signals import forward_signals

# A stand-in trainer that would train to the end (exit 0) unless a signal stops it.
TRAINS_TO_THE_END = [sys.executable, "-c", "import time; time.sleep(30)"]


def test_a_trainer_started_as_a_signal_arrives_is_stopped(tmp_path, monkeypatch):
    real_popen = subprocess.Popen
    started = []

    def popen_as_the_signal_arrives(command, **kwargs):
        # The signal lands after run_trainer looked (nothing yet) and before its trainer exists: the
        # forwarding reaches only the other trainer running beside it (a parallel pilot).
        signal.raise_signal(signal.SIGTERM)
        started.append(real_popen(command, **kwargs))
        return started[-1]

    monkeypatch.setattr(trainer_runs, "trainer_command", lambda *args: TRAINS_TO_THE_END)
    monkeypatch.setattr(trainer_runs.subprocess, "Popen", popen_as_the_signal_arrives)
    beside = real_popen(TRAINS_TO_THE_END)
    with forward_signals(), pytest.raises(Terminated, match="the trainer saved what it had"):
        trainer_runs.run_trainer(["train"], tmp_path / "trainer.log")
    assert beside.wait() == -signal.SIGTERM
    assert started[0].returncode == -signal.SIGTERM  # stopped, not trained to the end
