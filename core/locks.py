"""Exclusive locks on run and output folders, held for the life of the process (``flock``).

Part of the lowest layer: it imports nothing of critmix, and curation and the trainer share it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class LockHeld(Exception):
    """Another living process holds the lock; ``holder`` is the pid it wrote there (or '?')."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


# Locks this process holds. A forked child inherits a flock with the file descriptor and would keep it after
# this process died (datatrove's manager is forked from `critmix curate`): children close them first thing.
HELD_LOCKS: set = set()
os.register_at_fork(after_in_child=lambda: [handle.close() for handle in HELD_LOCKS])


def lock_for_life(path: Path):
    """An exclusive lock on ``path``, holding this process's pid, until the returned handle is closed. The
    kernel drops it when the process dies, however it dies, so a crash never leaves a stale lock behind."""
    handle = Path(path).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise LockHeld(holder) from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    HELD_LOCKS.add(handle)
    return handle


def release(lock) -> None:
    HELD_LOCKS.discard(lock)
    lock.close()


def lock_holder(path: Path) -> str | None:
    """The pid written in ``path`` while another process holds its lock (or '?'); None while none does."""
    try:
        handle = Path(path).open()
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "?"
    return None  # closing the handle dropped the shared lock
