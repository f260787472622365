"""SIGTERM and SIGINT to a ``critmix`` command reach every process it started, and the command exits as a
shell reports the signal (143, 130) with one line and no traceback.

Ctrl-C reaches the terminal's whole foreground group, but SIGTERM (``kill``, a scheduler, a container
stop) and a SIGINT sent by ``kill -INT`` only the process they were sent to, and the trainers, the tokenizer
and the executor's task processes would run on orphaned. ``forward_signals`` sends every descendant SIGTERM
on either: the one way each of them stops cleanly (the trainer checkpoints and exits, a task process dies
and its task reruns on resume; a SIGINT alone would let a task process take its pool's next task). The
command then stops where it waits for them (``run_trainer``, the executor's task pool) with ``stopped()``,
which says which signal it was; with no child to wait for, it stops at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

import psutil

from core.errors import Terminated

SIGNALS = (signal.SIGTERM, signal.SIGINT)
received: list[int] = []  # the signals that reached this process inside ``forward_signals``


def stopping() -> bool:
    """A signal arrived: start no new child."""
    return bool(received)


def stopped(saved: str) -> BaseException:
    """What the command raises once its children are gone: Ctrl-C's KeyboardInterrupt (exit 130) for SIGINT,
    Terminated (143) for SIGTERM, whose message says what was ``saved``."""
    if received and received[-1] == signal.SIGINT:
        return KeyboardInterrupt()
    return Terminated(f"{saved}; run the same command again to resume")


def forward(signum: int, frame) -> None:
    received.append(signum)
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    if not children:
        raise stopped("nothing was left half-written")


@contextlib.contextmanager
def forward_signals() -> Iterator[None]:
    """While in the block, SIGTERM and SIGINT go to every descendant of this process (see the module's
    docstring). Signals are the main thread's: called from another thread, this forwards nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous.update({signum: signal.signal(signum, forward) for signum in SIGNALS})
    try:
        yield
    finally:
        restore_handlers()
        received.clear()


previous: dict = {}  # the handlers ``forward_signals`` replaced, while it is in force


def restore_handlers() -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    previous.clear()


# A forked child (a task process under the fork start method) takes the signals as it would have: it has
# nothing to forward, and it must not stop its parent's way.
os.register_at_fork(after_in_child=restore_handlers)
