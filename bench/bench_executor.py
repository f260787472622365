"""What a phase costs the local executor beyond its tasks, against datatrove's LocalPipelineExecutor.

A curate runs ~20 phases; on a small corpus their start-up, not their tasks, sets its wall time.
Both executors run the same ``--phases`` phases of ``--tasks`` near-empty tasks (each imports what
a stage's task imports and reads one small Parquet file) on ``--workers`` processes from a
forkserver: datatrove's starts a manager and a pool for each phase, ours keeps the curate's task
processes (``pipeline/executors/local.py: task_processes``). Prints seconds per phase and the ratio.

    .venv/bin/python bench/bench_executor.py [--phases 10] [--tasks 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402

from pipeline.config import CurateConfig  # noqa: E402
from pipeline.executors import make_executor  # noqa: E402
from pipeline.executors.local import quiet_console, task_processes  # noqa: E402
from stages.tasks import Phase, TaskStep  # noqa: E402


def phases(root: Path, count: int, tasks: int) -> list[TaskStep]:
    table = root / "table.parquet"
    pq.write_table(pa.table({"id": [str(i) for i in range(100)]}), table)

    def read(rank: int, world_size: int) -> dict:
        import pyarrow.parquet  # here: dill carries a function of __main__ without its module's imports

        return {"rows": pyarrow.parquet.read_table(table).num_rows}

    return [TaskStep(Phase(f"phase-{i}", read, tasks)) for i in range(count)]


def seconds_per_phase(run_phase, steps: list[TaskStep]) -> float:
    started = time.perf_counter()
    for step in steps:
        run_phase(step)
    return (time.perf_counter() - started) / len(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    quiet_console()  # datatrove's executor would print each phase's stats
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        steps = phases(root, args.phases, args.tasks)
        stock = seconds_per_phase(
            lambda step: LocalPipelineExecutor(
                [step],
                tasks=args.tasks,
                workers=args.workers,
                logging_dir=str(root / "stock" / step.name),
            ).run(),
            steps,
        )
        curate = CurateConfig(workers=args.workers)
        started = time.perf_counter()
        with task_processes(args.workers):
            once = time.perf_counter() - started
            ours = seconds_per_phase(
                lambda step: make_executor(
                    curate, [step], root / "ours" / step.name, args.tasks
                ).run(),
                steps,
            )
    print(
        f"{args.phases} phases of {args.tasks} tasks on {args.workers} workers, seconds per phase: "
        f"datatrove's LocalPipelineExecutor {stock:.3f}, ours {ours:.3f} ({stock / ours:.1f}x less; "
        f"ours also starts its task processes once per curate: {once:.3f} s)"
    )


if __name__ == "__main__":
    main()
