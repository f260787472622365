"""A task's memory and time: its own peak resident memory (Linux), logged with its seconds when it ends, and the
memory it freed given back to the system before the next task of the same process."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
from loguru import logger


@contextmanager
def measured_task(phase: str, rank: int) -> Iterator[None]:
    """Logs ``<phase> task <rank>: peak RSS <n> MiB, <s> s`` to the task's log when the block ends (the scale
    bench reads it), then releases the memory the task freed."""
    reset_peak_rss()
    started = time.monotonic()
    yield
    logger.info(
        f"{phase} task {rank}: peak RSS {peak_rss() / 2**20:.0f} MiB, {time.monotonic() - started:.1f} s"
    )
    release_memory()


def release_memory() -> None:
    """Give freed memory back to the system between tasks: Arrow's pool and glibc's malloc keep it for reuse,
    so a warm task process otherwise carries every earlier task's high tide (724 MiB before an empty task
    at 1.6M documents)."""
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


# Task processes run many tasks: each task's own peak is measured from its start, so the task log says which
# task needed the memory (the process's VmHWM is the largest of every task it ran). Linux only; elsewhere
# the peak is the process's.
def reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss(pid: int | str = "self") -> int:
    """A process's peak resident memory in bytes since its start or last reset (VmHWM); 0 where /proc is missing."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next(
        (int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")),
        0,
    )
