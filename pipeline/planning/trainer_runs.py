"""The trainer as a subprocess: ``python -m trainer ...`` in its own process, exactly what a GPU host
runs, with the resolved config and the token shards it reads. Used by ``critmix plan`` and ``critmix train``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from core.config import to_mapping
from core.errors import CritmixError, Terminated
from core.files import atomic_write_text
from pipeline.config import CritmixConfig
from pipeline.rundir import RunDir


class TrainerFailed(CritmixError):
    """``python -m trainer`` exited with an error; the message carries its log's tail."""


# Trainer processes running now. SIGTERM reaches only the process it was sent to, unlike Ctrl-C, which reaches
# the whole foreground group: forward_sigterm passes it on, so that no trainer trains on orphaned.
LIVE_TRAINERS: set[subprocess.Popen] = set()


@contextlib.contextmanager
def forward_sigterm():
    """While in the block, SIGTERM to this process goes to every live trainer, which checkpoints and exits."""
    previous = signal.signal(
        signal.SIGTERM, lambda signum, frame: [c.send_signal(signum) for c in LIVE_TRAINERS]
    )
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def trainer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "trainer", *args]


def run_trainer(args: list[str], log_path: Path, threads: int | None = None) -> None:
    """Run ``python -m trainer ...`` as its own process; its output goes to ``log_path``."""
    env = dict(os.environ)
    if threads:  # also caps the BLAS/OpenMP pools, which torch.set_num_threads does not reach
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        args = [*args, "--set", f"threads={threads}"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            trainer_command(*args), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        LIVE_TRAINERS.add(child)
        try:
            code = child.wait()
        finally:
            LIVE_TRAINERS.discard(child)
    if code in (-signal.SIGTERM, 128 + signal.SIGTERM):
        raise Terminated(
            f"the trainer saved what it had (log: {log_path}); run the same command again to resume"
        )
    if code != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise TrainerFailed(f"trainer failed (exit {code}); its log is {log_path}:\n{tail}")


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
