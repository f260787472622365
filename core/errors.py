"""critmix's own errors, and what they become on both command lines (``critmix`` and
``python -m trainer``): one line on stderr and an exit code.

``CritmixError`` is an error the user can fix, whose message says how; ``ConfigError`` is one in the
config. Any other exception (from torch, datatrove, Ray, or a RuntimeError of our own) is a bug and
keeps its traceback. This module is the lowest layer: it imports nothing of critmix."""
from __future__ import annotations

import errno
import fcntl
import os
import sys
from pathlib import Path
from typing import Callable


class CritmixError(Exception):
    """An error the user can fix; the message says what to do next."""


class ConfigError(CritmixError):
    """A config key or value the user must fix; the message says how."""

# Errors of the output location that the user can fix and then resume from.
OUTPUT_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


def exit_code(work: Callable[[], int | None], prog: str) -> int:
    """Run ``work``. A config error exits 2; any other ``CritmixError``, or a full or unwritable output,
    exits 1. Anything else is a bug and keeps its traceback."""
    try:
        return work() or 0
    except ConfigError as err:
        print(f"{prog}: config error: {err}", file=sys.stderr)
        return 2
    except CritmixError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if err.errno not in OUTPUT_ERRORS:
            raise
        print(f"{prog}: cannot write output: {err}. Nothing partial was kept under a final name; free disk space "
              "or fix the permissions, then run the same command again to resume.", file=sys.stderr)
        return 1


def create_output_dir(path: Path, option: str) -> None:
    """``mkdir -p`` with an error that names the option when the path cannot be a directory."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"{option} {path}: it or one of its parents is a file, not a directory; "
                          f"pass {option} a directory path") from None


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
