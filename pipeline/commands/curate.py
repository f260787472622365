"""``critmix curate``: sources -> normalized, filtered, deduplicated, bucketed shards.

Stages run in order, each reading the previous stage's directory under ``work/``:
  ingest (per document) -> [boilerplate] -> exact_dedup -> quality -> minhash -> buckets -> shards.
Every stage is phases of tasks on the configured datatrove executor (local, Ray, or Slurm array
jobs, see stages/tasks.py); the main process only plans, waits and records. A stage whose key (its
config and its input's key) matches a finished stage in the manifest is skipped; ``--force``
reruns everything. A killed stage resumes at its first unfinished task.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from core.config import to_mapping
from core.errors import ConfigError, CritmixError
from core.files import atomic_write_text, file_sha256, finished_files
from pipeline.commands.args import add_config_args, load_args_config, run_dir_for
from pipeline.config import CritmixConfig
from pipeline.executors import EXECUTORS, make_executor
from pipeline.progress import console, run_with_task_progress, timed_stage
from pipeline.rundir import RunDir, package_versions
from stages.registry import Stage, filter_steps, global_stages
from stages.tasks import StageDirs, TaskStep, add_counters


class CountMismatch(CritmixError):
    """Documents went missing or were duplicated between reading and writing; ``--force`` redoes the run."""


def shards_stage(config: CritmixConfig) -> Stage:
    from stages import shards

    return Stage(
        "shards",
        lambda dirs: shards.phases(dirs, config.curate.tasks),
        lambda dirs, counters: {"counters": counters, "outputs": shards.checksums(dirs)},
    )


def stage_dirs(run: RunDir, name: str, inputs: Path) -> StageDirs:
    out = run / "shards" if name == "shards" else run / f"work/{name}"
    return StageDirs(inputs=inputs, out=out, removed=run / "removed", scratch=run / f"tmp/{name}")


def ingest_steps(config: CritmixConfig, run: RunDir) -> list:
    from stages.ingest.normalize import Normalizer
    from stages.ingest.readers import SourceReader
    from stages.writers import WorkWriter

    curate = config.curate
    return [
        SourceReader([s.spec(Path.cwd()) for s in config.sources]),
        Normalizer(curate.normalize),
        *filter_steps(curate),
        WorkWriter(
            str(run / "work/ingest"),
            str(run / "removed"),
            file_bytes=int(curate.work_file_mb * 2**20),
        ),
    ]


def check_sources(config: CritmixConfig) -> dict[str, str]:
    """Structural checks before anything is written; returns input checksums."""
    if not config.sources:
        raise ConfigError(
            "no sources configured: add a 'sources:' list to the config or pass --source NAME:DOMAIN:GLOB"
        )
    checksums = {}
    for source in config.sources:
        files = source.spec(Path.cwd()).files()
        if not files:
            hint = (
                " (run `make corpus` to fetch the demo corpus)"
                if any("data/raw" in p for p in source.paths)
                else ""
            )
            raise ConfigError(f"source '{source.name}': no file matches {source.paths}{hint}")
        for path in files:
            checksums[str(path)] = file_sha256(path)
    return checksums


def preflight(config: CritmixConfig, run_path: Path) -> dict:
    """Everything a run needs, checked before any stage runs or anything is written; returns what the manifest
    records of it: the input checksums and, in words, the quality model that will score the run."""
    checks: dict = {"inputs": check_sources(config)}
    ingest_steps(
        config, RunDir(run_path)
    )  # each step checks its settings (word lists, models) as it is built
    if config.curate.quality.enabled:
        from stages.quality.scoring import planned_model

        checks["quality_model"] = planned_model(
            config.curate.quality, [s.name for s in config.sources]
        )
        console.print(f"quality model: {checks['quality_model']}")
    return checks


@dataclasses.dataclass
class PlannedStage:
    """A stage with its key; ``jobs`` lists its executor runs as (logging dir, steps, tasks)."""

    name: str
    key: str
    work: Callable[[], dict]
    jobs: list[tuple[Path, list, int]]


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


def write_slurm_jobs(config: CritmixConfig, run: RunDir, planned: list[PlannedStage]) -> Path:
    """One array job per phase of every stage, each depending on the one before, and a last job that
    reruns ``critmix curate`` locally: it finds every task complete and records the run."""
    import dill

    slurm_dir = run / "slurm"
    slurm_dir.mkdir(parents=True, exist_ok=True)
    scripts: list[Path] = []
    for stage in planned:
        for logging_dir, steps, tasks in stage.jobs:
            phase = str(logging_dir.relative_to(run / "logs")).replace("/", "-")
            executor = make_executor(
                config.curate, steps, logging_dir, tasks, job_name=f"critmix-{phase}"
            )
            scripts.append(slurm_dir / f"{len(scripts):02d}-{phase}.slurm")
            atomic_write_text(
                scripts[-1],
                executor.get_launch_file_contents(
                    executor.get_sbatch_args(tasks),
                    f"launch_pickled_pipeline {executor.logging_dir.resolve_paths('executor.pik')}",
                ),
            )
            with executor.logging_dir.open("executor.pik", "wb") as handle:
                dill.dump(executor, handle)
        run.record_stage(stage.name, stage.key, "running")
    slurm = config.curate.slurm
    finish = slurm_dir / "finish.slurm"
    atomic_write_text(
        finish,
        "\n".join(
            [
                "#!/bin/bash",
                "#SBATCH --job-name=critmix-finish",
                f"#SBATCH --partition={slurm.partition}",
                f"#SBATCH --time={slurm.time}",
                f"cd {Path.cwd()}",
                f"{sys.executable} -m pipeline curate --run {run.path.resolve()} --config {(run / 'config.yaml').resolve()} "
                "--executor local",
                "",
            ]
        ),
    )
    lines = [
        "#!/bin/bash",
        "set -e",
        f"cd {slurm_dir.resolve()}",
        f"jid=$(sbatch --parsable {scripts[0].name})",
    ]
    lines += [
        f"jid=$(sbatch --parsable --dependency=afterok:$jid {s.name})"
        for s in scripts[1:] + [finish]
    ]
    submit = slurm_dir / "submit.sh"
    atomic_write_text(submit, "\n".join(lines + ['echo "submitted; the last job is $jid"', ""]))
    return submit


def submit_slurm(submit: Path, really: bool) -> str:
    if not really:
        return f"wrote the Slurm jobs under {submit.parent}; submit them with:\n  bash {submit}\n(or set curate.slurm.submit=true)"
    return subprocess.check_output(["bash", str(submit)], text=True).strip()


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


def count_by_source(root: Path) -> dict[str, int]:
    """Documents per source in the Parquet files under ``root``, a batch at a time (the main process holds no corpus)."""
    import pyarrow.dataset as ds

    counts: dict[str, int] = {}
    files = [str(p) for p in finished_files(root)]
    for batch in (
        ds.dataset(files, format="parquet").to_batches(columns=["source"]) if files else []
    ):
        values = batch.column(0).value_counts()
        add_counters(
            counts,
            dict(zip(values.field("values").to_pylist(), values.field("counts").to_pylist())),
        )
    return counts


def check_counts(run: RunDir) -> dict:
    """docs in = docs kept + docs removed, per source; raises if any document went missing."""
    read = run.manifest["stages"]["ingest"]["counters"]["read"]
    kept, removed = count_by_source(run / "shards"), count_by_source(run / "removed")
    table = {
        s: {"in": n, "kept": kept.get(s, 0), "removed": removed.get(s, 0)}
        for s, n in sorted(read.items())
    }
    wrong = {s: c for s, c in table.items() if c["in"] != c["kept"] + c["removed"]}
    if wrong:
        raise CountMismatch(
            f"documents lost or duplicated (in != kept + removed): {wrong}; rerun with --force"
        )
    return table


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


def stage_key(parent: str, payload) -> str:
    """A stage's identity: its parent's key and what it adds (config, inputs, name)."""
    text = parent + json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "curate",
        help="sources -> filtered, deduplicated, bucketed shards",
        description="Read every configured source, normalize, filter and deduplicate, and write "
        "Hive-partitioned Parquet shards under <run>/shards/. Finished stages are skipped.",
    )
    add_config_args(parser)
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME:DOMAIN:GLOB",
        help="a source from the command line (repeatable); added to the recipe when --config is given, "
        "else curated alone into runs/<its name>/",
    )
    parser.add_argument(
        "--workers", type=int, help="parallel worker processes (default: curate.workers)"
    )
    parser.add_argument(
        "--tasks", type=int, help="tasks the input is split into (default: curate.tasks)"
    )
    parser.add_argument(
        "--executor",
        choices=list(EXECUTORS),
        help="datatrove executor (default: curate.executor); slurm writes sbatch scripts for a cluster",
    )
    parser.add_argument(
        "--force", action="store_true", help="rerun every stage even if it is up to date"
    )
    parser.set_defaults(
        func=main, config=None
    )  # None: configs/demo.yaml, unless --source gives the sources


def main(args) -> int:
    overrides = [
        f"curate.{k}={getattr(args, k)}"
        for k in ("workers", "tasks", "executor")
        if getattr(args, k)
    ]
    config = load_args_config(args, extra_overrides=overrides, extra_sources=args.source)
    checks = preflight(
        config, run_dir_for(args, config)
    )  # nothing is written before the config is known to be usable
    with RunDir(run_dir_for(args, config)) as run:
        counts = curate(config, run, checks, force=args.force)
    if counts is not None:
        print_counts(counts, run)
    return 0


def print_counts(counts: dict, run: RunDir) -> None:
    from rich.table import Table

    table = Table(title=f"documents per source ({run.path})")
    for column in ("source", "in", "kept", "removed"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for source, c in counts.items():
        table.add_row(source, str(c["in"]), str(c["kept"]), str(c["removed"]))
    console.print(table)
