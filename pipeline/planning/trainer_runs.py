"""The trainer as a subprocess: ``python -m trainer ...`` in its own process, exactly what a GPU host
runs, with the resolved config and the token shards it reads. Used by ``critmix plan`` and ``critmix train``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import yaml

from core.config import to_mapping
from core.errors import CritmixError
from core.files import atomic_write_text
from pipeline.config import CritmixConfig
from pipeline.rundir import RunDir
from pipeline.signals import SIGNALS, stopped, stopping


class TrainerFailed(CritmixError):
    """``python -m trainer`` exited with an error; the message carries its log's tail."""


# How a trainer stopped by SIGTERM or SIGINT exits: by the signal, or with the shell's code for it.
STOPPED_BY_SIGNAL = {code for s in SIGNALS for code in (-s, 128 + s)}


PROGRESS_POLL_SECONDS = 2.0  # how often a watched trainer's metrics are looked at


def trainer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "trainer", *args]


def run_trainer(
    args: list[str],
    log_path: Path,
    threads: int | None = None,
    progress: Ticking | None = None,
) -> None:
    """Run ``python -m trainer ...`` as its own process; its output goes to ``log_path``, and ``progress``
    says how far it is while it runs. After SIGTERM or SIGINT (pipeline/signals.py, which passes them on
    to it) none starts, and one stopped by them stops the command."""
    env = dict(os.environ)
    if threads:  # also caps the BLAS/OpenMP pools, which torch.set_num_threads does not reach
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        args = [*args, "--set", f"threads={threads}"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    saved = f"the trainer saved what it had (log: {log_path})"
    if stopping():
        raise stopped(saved)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            trainer_command(*args), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        # A signal that came while it started was passed on before it existed, or while it was still a fork
        # that loses it at exec; Popen returns after the exec, so sent again now, it reaches the trainer.
        if stopping():
            process.terminate()
        code = wait(process, progress)
    if code in STOPPED_BY_SIGNAL or stopping():
        raise stopped(saved)
    if code != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise TrainerFailed(f"trainer failed (exit {code}); its log is {log_path}:\n{tail}")


class Ticking(Protocol):
    """What says how far a trainer run is: ``TrainingLines``, or a fused group's lines."""

    def tick(self) -> None: ...


def wait(process: subprocess.Popen, progress: Ticking | None) -> int:
    if progress is None:
        return process.wait()
    while True:
        try:
            return process.wait(timeout=PROGRESS_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            progress.tick()


def train_args(config_path: Path, spec: Path, tokens: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--config",
        str(config_path),
        "--curriculum",
        str(spec),
        "--tokens",
        str(tokens),
        "--out",
        str(out),
        *extra,
    ]


def write_yaml(path: Path, data: dict) -> Path:
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
    return path


def save_resolved_config(config: CritmixConfig, run: RunDir) -> Path:
    """The config with every default filled in, which each trainer run reads (``--config``)."""
    return write_yaml(run / "plan/config.yaml", to_mapping(config))


def ensure_tokens(run: RunDir, config_path: Path) -> Path:
    """Tokenize the run's shards into ``<run>/tokens`` (the trainer skips what is up to date)."""
    tokens = run / "tokens"
    run_trainer(
        [
            "tokenize",
            "--shards",
            str(run / "shards"),
            "--out",
            str(tokens),
            "--config",
            str(config_path),
        ],
        run / "plan/logs/tokenize.log",
    )
    return tokens
