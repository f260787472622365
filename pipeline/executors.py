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


# forkserver: task processes do not inherit the main process's threads (the progress bar's). Tests that
# patch a function inside the tasks set "fork", so that the task processes inherit the patch.
START_METHOD = "forkserver"


class QuietTasks:
    """Runs every task as datatrove runs tasks with ``local_rank != 0``, which only affects logging."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        return super()._run_for_rank(rank, 1, node_rank)


class QuietLocalExecutor(QuietTasks, LocalPipelineExecutor):
    """With one worker, datatrove runs the tasks in the calling process: here they run in one child
    process instead, so that the main process holds no task's data, with any number of workers."""

    def run(self):
        if self.workers != 1:
            return super().run()
        import multiprocess

        context = multiprocess.get_context(self.start_method)
        errors = context.SimpleQueue()
        child = context.Process(target=run_reporting_errors, args=(self, errors))
        child.start()
        child.join()
        if not errors.empty():
            raise errors.get()
        if child.exitcode:
            raise RuntimeError(f"the task process died with exit code {child.exitcode}; its log is under "
                               f"{self.logging_dir.path}/logs")


def run_reporting_errors(executor: LocalPipelineExecutor, errors) -> None:
    """In the child: run the tasks; an error goes back to the parent, which raises it."""
    try:
        LocalPipelineExecutor.run(executor)
    except BaseException as error:  # noqa: BLE001 - raised again in the parent
        errors.put(error)


class QuietRayExecutor(QuietTasks, RayPipelineExecutor):
    pass


def quiet_console() -> None:
    """The executor's own messages ("3/8 tasks completed") repeat the progress bar: warnings and errors only,
    unless LOGURU_LEVEL says otherwise. Worker processes read LOGURU_LEVEL when they import loguru."""
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")
    logger.remove()
    logger.add(sys.stderr, level=os.environ["LOGURU_LEVEL"])


# Imported once by the fork server, so that each task process starts without importing them again.
PRELOAD = ["datatrove.executor", "pyarrow.parquet", "pyarrow.compute", "numpy", "stages.tasks", "stages.readers",
           "stages.exact_dedup", "stages.minhash", "stages.quality", "stages.buckets", "stages.shards"]


def make_executor(curate: CurateConfig, pipeline: list, logging_dir: Path, tasks: int, job_name: str = "critmix"):
    quiet_console()
    if curate.executor == "local":
        tie_forked_children()  # datatrove's manager process
        if START_METHOD == "forkserver":  # task processes come from it, with one worker too: it dies with this process
            start_forkserver(PRELOAD)
        return QuietLocalExecutor(
            pipeline, tasks=tasks, workers=curate.workers, logging_dir=str(logging_dir), start_method=START_METHOD
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
        job_name=job_name, venv_path=str(Path(sys.prefix) / "bin/activate"),
    )
