"""SIGTERM to `critmix train` reaches the trainer it started: the trainer checkpoints and exits, the command
exits 143 with one line, and no trainer is left holding the output."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from core.locks import lock_for_life, release
from tests.conftest import REPO, TINY_CONFIG
from tests.trainer.conftest import two_domain_phase
from trainer.curriculum import Curriculum, write_curriculum

TINY_TRAIN = [
    "train.seed=0",
    "train.threads=1",
    "train.log_every_steps=1",
    "train.model.preset=tiny",
    "train.model.hidden=64",
    "train.model.seq_len=32",
    "train.tokenizer.vocab_size=300",
    "train.optim.micro_batch=4",
    "train.eval.val_sequences=4",
    "train.data.val_fraction=0.1",
    "train.data.min_piece=8",
    "train.checkpoint.every_tokens=100000000",
]


def wait_for(condition, what: str, limit_s: float = 600) -> None:
    """Poll until ``condition()``; the limit only keeps a broken run from hanging the suite."""
    give_up = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(0.5)


@pytest.mark.slow
def test_sigterm_to_train_checkpoints_the_trainer_and_exits_143(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    # Far more tokens than the test waits for: only the signal ends this run; checkpoints come only from it.
    write_curriculum(
        Curriculum(phases=[two_domain_phase("base", tokens=10**9, init="scratch")]),
        tmp_path / "c.yaml",
    )
    overrides = [word for item in TINY_TRAIN for word in ("--set", item)]
    command = [
        sys.executable,
        "-m",
        "pipeline",
        "train",
        "--config",
        str(TINY_CONFIG),
        "--run",
        str(run),
        "--curriculum",
        str(tmp_path / "c.yaml"),
        *overrides,
    ]
    critmix = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    metrics = run / "train/metrics.jsonl"
    wait_for(
        lambda: (
            metrics.exists() and "train_loss" in metrics.read_text() or critmix.poll() is not None
        ),
        "the first training step",
    )
    critmix.send_signal(signal.SIGTERM)
    out, err = critmix.communicate(timeout=600)
    assert critmix.returncode == 143, err
    *progress, error = err.splitlines()  # the console's progress lines go to stderr too
    assert error.startswith("critmix train: terminated; the trainer saved"), err
    assert not any("Traceback" in line or line.startswith("critmix train:") for line in progress), (
        err
    )
    assert list((run / "train/checkpoints").glob("step-*")) and not (run / "train/final").exists()
    release(lock_for_life(run / "train/.trainer.lock"))  # no trainer is left holding the output
