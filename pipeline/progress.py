"""Progress for long work: one live line per stage with elapsed time, and ETA bars for loops."""
from __future__ import annotations

import contextlib
import time
from typing import Callable, Iterable, Iterator, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)
T = TypeVar("T")


class StageProgress:
    def __init__(self, progress: Progress):
        self.progress = progress

    def run(self, name: str, work: Callable[[], T]) -> T:
        task = self.progress.add_task(name, total=None)
        started = time.time()
        try:
            return work()
        finally:
            self.progress.update(task, total=1, completed=1)
            self.progress.console.print(f"{name}: done in {time.time() - started:.1f}s")
            self.progress.remove_task(task)


@contextlib.contextmanager
def stage_progress() -> Iterator[StageProgress]:
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        yield StageProgress(progress)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a bar showing done/total, elapsed time and the ETA."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        yield from progress.track(items, total=total, description=description)
