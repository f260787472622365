"""Progress off a terminal (a log file, CI): one plain line per finished unit, with elapsed time and ETA."""

import io
import re

import pytest
from rich.console import Console

from pipeline.progress import UnitLines, run_with_task_progress, unit_progress
from pipeline.reporting.formatting import format_duration

LINE = re.compile(
    r"^(?P<unit>.+) (?P<done>\d+)/(?P<total>\d+)(?P<label>.*) \((?P<elapsed>\S+) elapsed, ETA (?P<eta>\S+)\)$"
)


def log() -> Console:
    return Console(file=io.StringIO(), width=40)  # narrower than the lines: they must not wrap


def lines(out: Console) -> list[dict]:
    return [LINE.match(line).groupdict() for line in out.file.getvalue().splitlines()]


def test_every_finished_unit_gets_one_line_and_the_eta_is_the_mean_unit_time_times_those_left():
    now = [100.0]
    out = log()
    progress = UnitLines(out, "pilot", 6, clock=lambda: now[0])
    for done, seconds in [
        (1, 30),
        (2, 60),
        (5, 150),
        (5, 160),
        (6, 400),
    ]:  # 3 to 5 finish between two looks
        now[0] = 100.0 + seconds
        progress.update(done, label=f"unit {done}")
    said = lines(out)
    assert [int(s["done"]) for s in said] == [1, 2, 3, 4, 5, 6] and {s["total"] for s in said} == {
        "6"
    }
    assert [s["eta"] for s in said] == ["2m30s", "2m00s", "2m30s", "1m15s", "30s", "0s"]
    assert [s["elapsed"] for s in said] == ["30s", "1m00s", "2m30s", "2m30s", "2m30s", "6m40s"]
    assert [s["label"] for s in said] == [" unit 1", " unit 2", "", "", " unit 5", " unit 6"]


def test_executor_tasks_off_a_terminal_get_a_line_each_also_those_that_finish_last():
    finished = []

    def work():
        finished.extend(range(4))  # all four finish before the first look at the count
        return "result"

    out = log()
    assert run_with_task_progress(work, "dedup", lambda: len(finished), 4, out) == "result"
    said = lines(out)
    assert [(s["unit"], s["done"], s["total"]) for s in said] == [
        ("dedup task", str(n), "4") for n in range(1, 5)
    ]
    assert said[-1]["eta"] == "0s"


def test_a_failed_executor_raises_in_the_caller():
    def work():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run_with_task_progress(work, "dedup", lambda: 0, 4, log())


def test_on_a_terminal_a_bar_replaces_the_lines():
    out = Console(file=io.StringIO(), force_terminal=True, width=100)
    with unit_progress("pilots (2 at a time)", 3, "pilot", out) as update:
        for done in range(1, 4):
            update(done, "legal r=0.50 seed 0: loss 3.000")
    assert "pilot 1/3" not in out.file.getvalue() and "loss 3.000" not in out.file.getvalue()


def test_durations_read_as_seconds_minutes_or_hours():
    assert [format_duration(s) for s in (0.4, 59.6, 130, 3599, 3725)] == [
        "0s",
        "1m00s",
        "2m10s",
        "59m59s",
        "1h02m",
    ]
