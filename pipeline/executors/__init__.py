"""The executors ``critmix curate`` runs its tasks on, by name: the one place a new executor is registered.

``curate.executor`` (the config) and ``critmix curate --executor`` (the CLI) accept exactly the names of
``EXECUTORS``; each entry says how to build datatrove's executor for one phase and how a curate drives
it. The builders import datatrove inside, so that reading this table (the config does) stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class CurateSettings(Protocol):
    """What the builders read of ``pipeline.config.CurateSettings`` (which imports this table)."""

    workers: int
    slurm: Any  # pipeline.config.SlurmConfig


@dataclass(frozen=True)
class Executor:
    """How to build the executor of one phase, and how a curate runs the phases on it."""

    build: Callable[[CurateSettings, list, Path, int, str], Any]
    # The phases run on critmix's own worker processes, held for the whole curate (pipeline/executors/local.py).
    holds_task_processes: bool = False
    # The phases are written as job scripts for a scheduler instead of being run by this process.
    writes_job_scripts: bool = False


def local(
    curate: CurateSettings, pipeline: list, logging_dir: Path, tasks: int, job_name: str
) -> Any:
    from pipeline.executors.local import QuietLocalExecutor

    return QuietLocalExecutor(
        pipeline, tasks=tasks, workers=curate.workers, logging_dir=str(logging_dir)
    )


def ray(
    curate: CurateSettings, pipeline: list, logging_dir: Path, tasks: int, job_name: str
) -> Any:
    import ray as ray_runtime

    from pipeline.executors.local import QuietRayExecutor

    if not ray_runtime.is_initialized():
        ray_runtime.init(num_cpus=curate.workers, include_dashboard=False, log_to_driver=False)
    return QuietRayExecutor(
        pipeline, tasks=tasks, workers=curate.workers, logging_dir=str(logging_dir)
    )


def slurm(
    curate: CurateSettings, pipeline: list, logging_dir: Path, tasks: int, job_name: str
) -> Any:
    from datatrove.executor import SlurmPipelineExecutor

    settings = curate.slurm
    return SlurmPipelineExecutor(
        pipeline,
        tasks=tasks,
        workers=curate.workers,
        logging_dir=str(logging_dir),
        time=settings.time,
        partition=settings.partition,
        cpus_per_task=settings.cpus_per_task,
        mem_per_cpu_gb=settings.mem_per_cpu_gb,
        job_name=job_name,
        venv_path=str(Path(sys.prefix) / "bin/activate"),
    )


EXECUTORS: dict[str, Executor] = {
    "local": Executor(local, holds_task_processes=True),
    "ray": Executor(ray),
    "slurm": Executor(slurm, writes_job_scripts=True),
}


def make_executor(
    curate: Any, pipeline: list, logging_dir: Path, tasks: int, job_name: str = "critmix"
) -> Any:
    """datatrove's executor for one phase, of the kind ``curate.executor`` names."""
    from pipeline.executors.local import quiet_console

    quiet_console()
    return EXECUTORS[curate.executor].build(curate, pipeline, logging_dir, tasks, job_name)
