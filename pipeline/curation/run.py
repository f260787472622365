"""Running a curate run's stages on the executor and recording them in the manifest."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from core.config import to_mapping
from core.files import atomic_write_text
from pipeline.config import CritmixConfig
from pipeline.curation.counts import check_counts
from pipeline.curation.slurm import submit_slurm, write_slurm_jobs
from pipeline.curation.stages import PlannedStage, ingest_steps, shards_stage, stage_dirs, stage_key
from pipeline.executors import EXECUTORS, make_executor
from pipeline.progress import console, run_with_task_progress, timed_stage
from pipeline.rundir import RunDir, package_versions
from stages.registry import Stage, global_stages
from stages.tasks import StageDirs, TaskStep, add_counters


def plan_stages(config: CritmixConfig, run: RunDir, key: str) -> list[PlannedStage]:
    """Every stage in order with its key (its config and its input's key)."""
    planned = [
        PlannedStage(
            "ingest",
            key,
            lambda: run_ingest(config, run, key),
            [(run / "logs/ingest", ingest_steps(config, run), config.curate.tasks)],
        )
    ]
    inputs = run / "work/ingest"
    for stage in [*global_stages(config.curate, run), shards_stage(config)]:
        key = stage_key(key, stage.name)
        dirs = stage_dirs(run, stage.name, inputs)
        jobs = [
            (run / f"logs/{phase.name}", [TaskStep(phase)], phase.tasks)
            for phase in stage.phases(dirs)
        ]
        planned.append(
            PlannedStage(
                stage.name, key, partial(run_tasks, config, run, stage, dirs, key, jobs), jobs
            )
        )
        inputs = dirs.out
    return planned


def run_tasks(
    config: CritmixConfig, run: RunDir, stage: Stage, dirs: StageDirs, key: str, jobs: list
) -> dict:
    """Run a stage's phases on the executor. An unfinished attempt with the same key is resumed at the
    task (datatrove skips the tasks it marked complete); anything else of the stage is cleared first."""
    entry = run.manifest["stages"].get(stage.name, {})
    if entry.get("status") != "running" or entry.get("key") != key:
        clear(
            dirs.out, dirs.scratch, run / f"removed/stage={stage.name}", run / f"logs/{stage.name}"
        )
        run.record_stage(stage.name, key, "running")
    dirs.out.mkdir(parents=True, exist_ok=True)
    counters: dict = {}
    for logging_dir, steps, tasks in jobs:
        run_on_executor(config, steps, logging_dir, steps[0].name, tasks)
        add_counters(counters, read_stats(logging_dir))
    fields = stage.summary(dirs, counters)
    clear(dirs.scratch)
    return fields


def read_stats(logging_dir: Path) -> dict[str, int]:
    """The counters of every task, summed, from datatrove's per-task stats."""
    counters: dict[str, int] = {}
    for stats_file in sorted((logging_dir / "stats").glob("*.json")):
        for step in json.loads(stats_file.read_text()):
            for label, value in step.get("stats", {}).items():
                add_counters(
                    counters, {label: int(value["total"] if isinstance(value, dict) else value)}
                )
    return counters


def clear(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def clear_run(run: RunDir) -> None:
    """Forget every stage: a different config or input leaves nothing of an old attempt reusable."""
    clear(run / "work", run / "removed", run / "logs", run / "shards", run / "tmp")
    run.manifest["stages"] = {}


def run_ingest(config: CritmixConfig, run: RunDir, key: str) -> dict:
    logging_dir = run / "logs/ingest"
    if run.manifest["stages"].get("ingest", {}).get("key") != key:
        clear_run(run)
    run.record_stage("ingest", key, "running")
    run_on_executor(config, ingest_steps(config, run), logging_dir, "ingest", config.curate.tasks)
    counts = read_stats(logging_dir)
    return {
        "counters": {
            "read": {k.removeprefix("read:"): v for k, v in counts.items() if k.startswith("read:")}
        }
    }


def run_on_executor(
    config: CritmixConfig, steps: list, logging_dir: Path, description: str, tasks: int
) -> None:
    """Run datatrove steps as ``tasks`` tasks on the configured local or Ray executor, with a progress bar."""

    executor = make_executor(config.curate, steps, logging_dir, tasks)
    completions = logging_dir / "completions"
    run_with_task_progress(
        executor.run, description, lambda: len(list(completions.glob("*"))), tasks
    )


def run_stage(run: RunDir, name: str, key: str, work: Callable[[], dict]) -> None:
    """Run a stage unless the manifest has it done with the same key; record what it did."""
    if run.stage_done(name, key):
        console.print(f"[dim]{name}: up to date, skipped[/]")
        return
    started = time.time()
    fields = timed_stage(name, work)
    run.record_stage(name, key, "done", seconds=round(time.time() - started, 2), **fields)


def curate(config: CritmixConfig, run: RunDir, checks: dict, force: bool = False) -> dict | None:
    """Run every stage that is not already done (``checks``: what ``preflight`` found); returns the per-source
    count table, or None when the stages went to Slurm."""
    from pipeline.executors.local import task_processes

    if force:
        run.manifest["stages"] = {}
    run.manifest.update(
        config=to_mapping(config),
        config_hash=config.output_hash(),
        packages=package_versions(),
        **checks,
    )
    atomic_write_text(run / "config.yaml", config.dump())
    planned = plan_stages(config, run, stage_key(config.output_hash(), checks["inputs"]))
    executor = EXECUTORS[config.curate.executor]
    if executor.writes_job_scripts and not run.stage_done("shards", planned[-1].key):
        if run.manifest["stages"].get("ingest", {}).get("key") != planned[0].key:
            clear_run(run)
        console.print(
            submit_slurm(write_slurm_jobs(config, run, planned), config.curate.slurm.submit)
        )
        return None
    # local: one set of task processes for every phase, started here, in the main thread (see TaskProcesses)
    with task_processes(config.curate.workers) if executor.holds_task_processes else nullcontext():
        for stage in planned:
            run_stage(run, stage.name, stage.key, stage.work)
    counts = check_counts(run)
    run.manifest["counts"] = counts
    run.save_manifest()
    return counts
