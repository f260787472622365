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


def test_a_trainer_runs_progress_says_tokens_loss_and_an_eta_that_moves(tmp_path, capsys):
    import json

    from pipeline.progress import TrainingLines

    now = [0.0]
    metrics = tmp_path / "metrics.jsonl"
    lines = TrainingLines("base model", metrics, 4000, every=30.0, clock=lambda: now[0])
    lines.tick()  # no metrics yet: nothing to say
    for tokens, seconds in ((1000, 40.0), (1000, 80.0), (2000, 100.0), (3000, 110.0)):
        with metrics.open("a") as handle:
            handle.write(json.dumps({"step": tokens // 100, "tokens": tokens, "train_loss": 5.0}))
            handle.write("\n" + json.dumps({"tokens": tokens, "val": {}}) + "\n")
        now[0] = seconds
        lines.tick()
    with metrics.open("a") as handle:
        handle.write('{"step": 99, "tok')  # a line the trainer is writing
    now[0] = 200.0
    lines.tick()
    said = capsys.readouterr().err.splitlines()
    # 1000 tokens at 40 s, nothing new at 80 s, 2000 at 100 s, 110 s is within 30 s of the last line,
    # and at 200 s the half-written line is passed over for the last whole one
    assert said == [
        "base model: 1,000/4,000 tokens, loss 5.000 (40s elapsed, ETA 2m00s)",
        "base model: 2,000/4,000 tokens, loss 5.000 (1m40s elapsed, ETA 1m40s)",
        "base model: 3,000/4,000 tokens, loss 5.000 (3m20s elapsed, ETA 1m07s)",
    ]
