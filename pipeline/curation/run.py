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
from pipeline.curation.counts import check_counts, removal_warnings
from pipeline.curation.slurm import submit_slurm, write_slurm_jobs
from pipeline.curation.stages import PlannedStage, ingest_steps, shards_stage, stage_dirs, stage_key
from pipeline.executors import EXECUTORS, make_executor
from pipeline.progress import console, run_with_task_progress, timed_stage
from pipeline.rundir import RunDir, package_versions
from pipeline.stage_files import OUTPUT_FOLDERS, damaged_files, written_files
from stages.buckets import EDGES_FILE, tied_tiers
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
    """Read the sources. An unfinished attempt with the same key is resumed at the task; anything else (a
    new config or input, or a done ingest whose files were damaged) starts the run afresh."""
    logging_dir = run / "logs/ingest"
    entry = run.manifest["stages"].get("ingest", {})
    if entry.get("status") != "running" or entry.get("key") != key:
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


def run_stages(run: RunDir, planned: list[PlannedStage]) -> None:
    """Run every stage that the manifest does not have done with the same key and the files it wrote (see
    pipeline/stage_files.py). A stage whose files are missing or changed reruns, and every stage after it:
    each read the one before."""
    redo = False
    for stage in planned:
        if run.stage_done(stage.name, stage.key) and not redo:
            damaged = damaged_files(run.path, run.manifest["stages"][stage.name].get("files", {}))
            if not damaged:
                console.print(f"[dim]{stage.name}: up to date, skipped[/]")
                continue
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            console.print(
                f"[yellow]{stage.name}:[/] {damaged[0]}{more}; redoing it and every stage after it",
                highlight=False,
                soft_wrap=True,
            )
        run_stage(run, stage.name, stage.key, stage.work)
        redo = True


def run_stage(run: RunDir, name: str, key: str, work: Callable[[], dict]) -> None:
    """Run a stage and record what it did and the files it wrote."""
    started = time.time()
    fields = timed_stage(name, work)
    others = [
        rel
        for other, entry in run.manifest["stages"].items()
        if other != name
        for rel in entry.get("files", {})
    ]
    run.record_stage(
        name,
        key,
        "done",
        seconds=round(time.time() - started, 2),
        files=written_files(run.path, others),
        **fields,
    )


# Where ``--force`` curates a finished run anew, inside the run (one file system: the swap is renames).
STAGED = ".force"


def tier_warnings(run: RunDir) -> list[str]:
    edges_path = run / "work/buckets" / EDGES_FILE
    if not edges_path.is_file():
        return []
    record = json.loads(edges_path.read_text())
    return tied_tiers(record["edges"], record["tiers"])


def curate(config: CritmixConfig, run: RunDir, checks: dict, force: bool = False) -> dict | None:
    """Run every stage that is not already done (``checks``: what ``preflight`` found); returns the per-source
    count table, or None when the stages went to Slurm. ``force`` redoes every stage; a finished run's
    readers go on reading its outputs meanwhile: the new ones are written beside them and replace them at
    the end (not for Slurm, whose jobs name the run)."""
    if (
        force
        and "counts" in run.manifest
        and not EXECUTORS[config.curate.executor].writes_job_scripts
    ):
        clear(run / STAGED)
        staged = RunDir(run / STAGED)
        counts = curate_stages(config, staged, checks)
        replace_outputs(run, staged)
        return counts
    if force:
        run.manifest["stages"] = {}
    return curate_stages(config, run, checks)


def replace_outputs(run: RunDir, staged: RunDir) -> None:
    """The staged curate's outputs take the place of the run's, each folder by a rename; readers are told
    the run is being curated until the staged manifest, renamed last, says it is finished."""
    run.manifest.pop("counts", None)
    run.save_manifest()
    for name in (*OUTPUT_FOLDERS, "logs", "tmp", "config.yaml"):
        if (run / name).exists():
            (run / name).rename(staged / f"replaced-{name}")
        if (staged / name).exists():
            (staged / name).rename(run / name)
    staged.manifest_path.replace(run.manifest_path)
    run.manifest = staged.manifest
    clear(staged.path)


def curate_stages(config: CritmixConfig, run: RunDir, checks: dict) -> dict | None:
    """``curate`` in ``run`` (the run itself, or where ``--force`` stages a new one)."""
    from pipeline.executors.local import task_processes

    # Until the counts are back, readers of the run (sql, report, export) are told it is being curated.
    run.manifest.pop("counts", None)
    run.manifest.update(
        config=to_mapping(config),
        config_hash=config.output_hash(),
        packages=package_versions(),
        **checks,
    )
    run.save_manifest()
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
        run_stages(run, planned)
    counts = check_counts(run)
    for line in [
        *removal_warnings(run, counts, config.curate.warn_removed_share),
        *tier_warnings(run),
    ]:
        console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    run.manifest["counts"] = counts
    run.save_manifest()
    return counts
