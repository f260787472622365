"""datatrove executors for ``critmix curate`` (registered by name in ``pipeline/executors/__init__.py``).

Task logs go to ``<logging_dir>/logs/task_*.log`` only: datatrove also prints the log of every
task whose ``local_rank`` is 0 on the console, where it would bury the progress bar, and every task's
errors, which the main process reports (``add_task_log_file``).

The local executor runs the tasks of every phase of a curate on the same worker processes
(``task_processes``): datatrove's own starts a manager and a pool per phase, and with the imports
in fresh processes that cost 0.3-1 s for each of a curate's ~20 phases, more than most tasks of a
small corpus take.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

import datatrove.executor.base as datatrove_base
import dill
from datatrove.executor import LocalPipelineExecutor, RayPipelineExecutor
from datatrove.utils.stats import PipelineStats
from loguru import logger

from pipeline.executors.lifeline import start_forkserver, tie_forked_children
from pipeline.signals import stopped, stopping
from stages.registry import step_modules

# forkserver: task processes do not inherit the main process's threads (the progress bar's). Tests that
# patch a function inside the tasks set "fork", so that the task processes inherit the patch.
START_METHOD = "forkserver"

# Imported once by the fork server, so that each task process starts without importing them again:
# every registered filter and stage (stages/registry.py) and the libraries they run on.
PRELOAD = [
    "pipeline.executors.local",
    "pyarrow.parquet",
    "pyarrow.dataset",
    "pyarrow.compute",
    "numpy",
    *step_modules(),
]


def add_task_log_file(logging_dir, rank: int, local_rank: int = 0, node_rank: int = -1):
    """datatrove's task logger, its file alone. A task's error reaches the console from the main process,
    once: one line for one the user can fix (a full disk), else the traceback of the bug, which carries the
    task's. And a log file that cannot be written fails the task with its error (ENOSPC), where loguru would
    print a trace of its own."""
    logger.remove()
    logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
    logger.add(logfile, level="DEBUG", catch=False)
    logger.info(f"Launching pipeline for {rank=}")
    return logfile


datatrove_base.add_task_logger = add_task_log_file  # what every task's _run_for_rank calls


class QuietLocalExecutor(LocalPipelineExecutor):
    """datatrove's local executor, its tasks run on ``task_processes``: never in the calling process, so
    that the main process holds no task's data, with any number of workers."""

    def run(self) -> PipelineStats | None:
        ranks = self.get_incomplete_ranks(range(self.tasks))
        if not ranks:
            return None
        self.save_executor_as_json()
        with task_processes(self.workers) as processes:
            stats = sum(processes.run(self, ranks), start=PipelineStats())
        with self.logging_dir.open("stats.json", "wt") as handle:
            stats.save_to_disk(handle)
        return stats


class TaskProcesses:
    """``workers`` processes that run executor tasks, started from the calling thread: the forkserver (or
    with the fork start method, a task process) dies with the thread that started it (``pipeline/executors/lifeline.py``),
    and the executor runs in the progress bar's worker thread, which ends with each phase."""

    def __init__(self, workers: int):
        self.workers = workers
        tie_forked_children()
        if (
            START_METHOD == "forkserver"
        ):  # it dies with this process, and the task processes with it
            start_forkserver(PRELOAD)
        self.pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context(START_METHOD)
        )
        self.pool.submit(int).result()  # a first process, now (with fork: all of them)

    def run(self, executor: LocalPipelineExecutor, ranks: list[int]) -> list[PipelineStats]:
        """Run the tasks ``ranks`` of ``executor``; the first task error is raised here, and tasks not started yet are dropped."""
        pickled = dill.dumps(executor)  # dill, as datatrove's pool: a phase's task is a closure
        futures = [self.pool.submit(run_pickled_task, pickled, rank) for rank in ranks]
        try:
            return [future.result() for future in as_completed(futures)]
        except BrokenProcessPool as error:
            if (
                stopping()
            ):  # SIGTERM or SIGINT, passed on to the task processes (pipeline/signals.py)
                raise stopped("the finished tasks are kept") from None
            raise RuntimeError(
                f"a task process died (killed, or out of memory?): {error}; the task logs are under "
                f"{executor.logging_dir.path}/logs"
            ) from error
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def run_pickled_task(pickled_executor: bytes, rank: int) -> PipelineStats:
    """In a task process: datatrove's task ``rank`` (logs, stats, completion mark) on a fresh copy of the pipeline."""
    return dill.loads(pickled_executor)._run_for_rank(rank)


warm: TaskProcesses | None = None  # those of the innermost ``task_processes`` block


@contextmanager
def task_processes(workers: int) -> Iterator[TaskProcesses]:
    """The task processes of the enclosing block with as many workers (a curate holds them for all its
    phases), or new ones for this block only."""
    global warm
    if warm is not None and warm.workers == workers:
        yield warm
        return
    outer, warm = warm, TaskProcesses(workers)
    try:
        yield warm
    finally:
        warm.close()
        warm = outer


class QuietRayExecutor(RayPipelineExecutor):
    pass


def quiet_console() -> None:
    """The executor's own messages ("3/8 tasks completed") repeat the progress bar: warnings and errors only,
    unless LOGURU_LEVEL says otherwise. Worker processes read LOGURU_LEVEL when they import loguru."""
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")
    logger.remove()
    logger.add(sys.stderr, level=os.environ["LOGURU_LEVEL"])
