"""The executor's helper processes die with ``critmix curate``, however it dies (Linux).

The local executor's task processes come from a multiprocessing forkserver (``pipeline/executors/local.py``).
After a ``kill -9`` of ``critmix curate`` nothing tells them: a worker holds the forkserver's
"alive" pipe open, and all of them hold the resource tracker's pipe, so all of them wait forever.
``tie_forked_children`` asks the kernel (``PR_SET_PDEATHSIG``) to SIGKILL every process this one
forks from then on (task processes under the fork start method) when the thread that forked it
ends; ``start_forkserver`` does the same for the forkserver, which imports this module as its
preload and ties its workers to itself. The resource tracker then reads end-of-file and exits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Sequence

PARENT = (
    "CRITMIX_FORKSERVER_PARENT"  # set only while the forkserver starts: the pid it must die with
)
PR_SET_PDEATHSIG = 1
forking_pid = 0  # the pid that is forking, seen by the child
tied = False


def die_with(parent: int) -> None:
    """SIGKILL this process when ``parent`` (the thread of it that forked this one) ends; at once if it already has."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(1)


def remember_forking_pid() -> None:
    global forking_pid
    forking_pid = os.getpid()


def tie_forked_children() -> None:
    """Every process forked from now on dies with the thread that forked it."""
    global tied
    if sys.platform.startswith("linux") and not tied:
        os.register_at_fork(
            before=remember_forking_pid, after_in_child=lambda: die_with(forking_pid)
        )
        tied = True


def start_forkserver(preload: Sequence[str] = ()) -> None:
    """Start multiprocessing's forkserver now, from the calling thread (task processes come from it); it
    imports ``preload`` once, so that the processes it forks start without importing them again."""
    from multiprocessing import forkserver

    tie_forked_children()
    forkserver.set_forkserver_preload([__name__, *preload])
    os.environ[PARENT] = str(os.getpid())
    try:
        forkserver.ensure_running()
    finally:
        del os.environ[PARENT]


if PARENT in os.environ and sys.platform.startswith(
    "linux"
):  # imported as the forkserver's preload
    die_with(int(os.environ.pop(PARENT)))
    tie_forked_children()
