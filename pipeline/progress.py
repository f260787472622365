"""Progress for long work: a line per stage with its time, and for the units inside a stage (executor
tasks, pilots) an ETA bar on a terminal or, elsewhere (a log file, CI), one line per finished unit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from pipeline.reporting.formatting import format_duration

console = Console(stderr=True)
T = TypeVar("T")
Update = Callable[
    ..., None
]  # update(done, label=""): ``done`` units of the total are finished, the last is ``label``


def timed_stage(name: str, work: Callable[[], T]) -> T:
    """Run one stage, saying when it starts and how long it took (inner loops show their own ETA)."""
    console.print(f"[bold]{name}[/]: running")
    started = time.time()
    value = work()
    console.print(f"[bold]{name}[/]: done in {time.time() - started:.1f}s")
    return value


class UnitLines:
    """Progress as plain lines, for output that is not a terminal, where a bar would print nothing until
    it ends: ``<unit> <done>/<total> <label> (<elapsed> elapsed, ETA <eta>)`` once per finished unit."""

    def __init__(
        self, out: Console, unit: str, total: int, clock: Callable[[], float] = time.monotonic
    ):
        self.out, self.unit, self.total, self.clock = out, unit, total, clock
        self.started, self.done = clock(), 0

    def update(self, done: int, label: str = "") -> None:
        elapsed = self.clock() - self.started
        for count in range(
            self.done + 1, min(done, self.total) + 1
        ):  # units finished since the last update
            eta = elapsed / count * (self.total - count)
            said = f" {label}" if label and count == done else ""
            self.out.print(
                f"{self.unit} {count}/{self.total}{said} ({format_duration(elapsed)} elapsed, "
                f"ETA {format_duration(eta)})",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        self.done = max(self.done, done)


@contextmanager
def unit_progress(
    description: str, total: int, unit: str, out: Console | None = None
) -> Iterator[Update]:
    """Yields ``update(done, label="")`` for ``total`` units of work: on a terminal it moves a bar (what
    runs, done/total, elapsed, ETA) that vanishes when done; elsewhere it prints a line per finished unit."""
    out = out or console
    if not out.is_terminal:
        yield UnitLines(out, unit, total).update
        return
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=out, transient=True) as bars:
        bar = bars.add_task(description, total=total)
        yield lambda done, label="": bars.update(bar, completed=done)


def run_with_task_progress(
    work: Callable[[], T],
    description: str,
    count_done: Callable[[], int],
    total: int,
    out: Console | None = None,
) -> T:
    """Run ``work`` (an executor) in a thread while ``unit_progress`` counts its finished tasks."""
    import threading

    result: dict = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    with unit_progress(description, total, f"{description} task", out) as update:
        thread.start()
        while thread.is_alive():
            update(count_done())
            thread.join(timeout=0.5)
        if "error" not in result:
            update(count_done())  # the tasks that finished after the last look
    if "error" in result:
        raise result["error"]
    return result["value"]


class TrainingLines:
    """A trainer run's progress read from its ``metrics.jsonl`` while it runs (the trainer itself writes only
    to its log): ``<label>: <tokens>/<total> tokens, loss <l> (<elapsed> elapsed, ETA <eta>)``, a line at
    most every ``every`` seconds and only when the run has moved, on a terminal and off it alike."""

    def __init__(
        self,
        label: str,
        metrics: Path,
        total_tokens: int,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.metrics, self.total, self.every, self.clock = (
            label,
            metrics,
            total_tokens,
            every,
            clock,
        )
        self.started = self.said = clock()
        self.tokens = 0

    def latest(self) -> dict | None:
        """The last whole training line, read from the file's end only."""
        try:
            with self.metrics.open("rb") as handle:
                start = max(0, self.metrics.stat().st_size - 8192)
                handle.seek(start)
                # the first piece may be the end of a line, the last a line half written
                lines = handle.read().split(b"\n")[1 if start else 0 : -1]
        except FileNotFoundError:
            return None
        for line in reversed(lines):
            record = json.loads(line)
            if "train_loss" in record:
                return record
        return None

    def tick(self) -> None:
        now = self.clock()
        record = self.latest() if now - self.said >= self.every else None
        if record is None or record["tokens"] <= self.tokens:
            return
        self.said, self.tokens = now, record["tokens"]
        elapsed = now - self.started
        eta = elapsed / self.tokens * max(self.total - self.tokens, 0)
        console.print(
            f"{self.label}: {self.tokens:,}/{self.total:,} tokens, loss {record['train_loss']:.3f} "
            f"({format_duration(elapsed)} elapsed, ETA {format_duration(eta)})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
