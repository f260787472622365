"""Progress for long work: a line per stage with its time, and ETA bars for the loops inside."""
from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)
T = TypeVar("T")


def timed_stage(name: str, work: Callable[[], T]) -> T:
    """Run one stage, saying when it starts and how long it took (inner loops show their own ETA)."""
    console.print(f"[bold]{name}[/]: running")
    started = time.time()
    value = work()
    console.print(f"[bold]{name}[/]: done in {time.time() - started:.1f}s")
    return value


def eta_bars(unit: str = "") -> Progress:
    """Bars that show what runs, done/total (in ``unit``), the elapsed time and the ETA, and vanish when done."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *([TextColumn(unit)] if unit else []),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    return Progress(*columns, console=console, transient=True)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a bar showing done/total, elapsed time and the ETA."""
    with eta_bars() as progress:
        yield from progress.track(items, total=total, description=description)


def run_with_task_progress(work: Callable[[], T], description: str, count_done: Callable[[], int], total: int) -> T:
    """Run ``work`` (an executor) in a thread while a bar counts its finished tasks, with an ETA."""
    import threading

    result: dict = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    with eta_bars("tasks") as progress:
        bar = progress.add_task(description, total=total)
        thread.start()
        while thread.is_alive():
            progress.update(bar, completed=count_done())
            thread.join(timeout=0.5)
    if "error" in result:
        raise result["error"]
    return result.get("value")

