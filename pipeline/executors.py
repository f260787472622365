"""datatrove executors for ``critmix curate``: local, Ray or Slurm, chosen by ``curate.executor``.

Task logs go to ``<logging_dir>/logs/task_*.log`` only: datatrove also prints the log of every
task whose ``local_rank`` is 0 on the console, where it would bury the progress bar. Errors still
reach the console.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor, RayPipelineExecutor, SlurmPipelineExecutor
from loguru import logger

from pipeline.config import CurateConfig
from pipeline.lifeline import start_forkserver, tie_forked_children


class QuietTasks:
    """Runs every task as datatrove runs tasks with ``local_rank != 0``, which only affects logging."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        return super()._run_for_rank(rank, 1, node_rank)


class QuietLocalExecutor(QuietTasks, LocalPipelineExecutor):
    pass


class QuietRayExecutor(QuietTasks, RayPipelineExecutor):
    pass


def quiet_console() -> None:
    """The executor's own messages ("3/8 tasks completed") repeat the progress bar: warnings and errors only,
    unless LOGURU_LEVEL says otherwise. Worker processes read LOGURU_LEVEL when they import loguru."""
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")
    logger.remove()
    logger.add(sys.stderr, level=os.environ["LOGURU_LEVEL"])


def make_executor(curate: CurateConfig, pipeline: list, logging_dir: Path, tasks: int):
    quiet_console()
    if curate.executor == "local":
        tie_forked_children()  # datatrove's manager process
        if curate.workers > 1:  # a pool: its forkserver starts here, in the main thread, so it dies with this process
            start_forkserver()
        return QuietLocalExecutor(
            pipeline, tasks=tasks, workers=curate.workers, logging_dir=str(logging_dir), start_method="forkserver"
        )
    if curate.executor == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=curate.workers, include_dashboard=False, log_to_driver=False)
        return QuietRayExecutor(pipeline, tasks=tasks, workers=curate.workers, logging_dir=str(logging_dir))
    slurm = curate.slurm
    return SlurmPipelineExecutor(
        pipeline, tasks=tasks, workers=curate.workers, logging_dir=str(logging_dir), time=slurm.time,
        partition=slurm.partition, cpus_per_task=slurm.cpus_per_task, mem_per_cpu_gb=slurm.mem_per_cpu_gb,
        job_name="critmix-ingest", venv_path=str(Path(sys.prefix) / "bin/activate"),
    )
