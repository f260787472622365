"""``critmix curate``: sources -> normalized, filtered, deduplicated, bucketed shards.

Stages run in order, each reading the previous stage's directory under ``work/``:
  ingest (per document, on a datatrove executor) -> exact_dedup -> ... -> shards.
A stage whose key (its config and its input's key) matches a finished stage in the manifest is
skipped; ``--force`` reruns everything. A killed ingest resumes from datatrove's completed tasks.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Callable

from pipeline.cli_args import add_config_args, load_args_config, run_dir_for
from pipeline.config import CritmixConfig, ConfigError
from pipeline.progress import console, phase_bars, run_with_task_progress, timed_stage
from pipeline.rundir import RunDir, package_versions, tree_checksums
from stages.files import atomic_write_text, file_sha256, finished_files
from trainer.config import to_mapping


class CountMismatch(RuntimeError):
    pass


@dataclasses.dataclass
class GlobalStage:
    """A stage over all documents at once: ``run(inputs, out_dir, removed_dir) -> counters``."""

    name: str
    run: Callable[[list[Path], Path, Path], dict]


def global_stages(config: CritmixConfig, run: RunDir) -> list[GlobalStage]:
    from stages.exact_dedup import run_exact_dedup

    curate = config.curate
    stages = []
    if curate.boilerplate.enabled:
        from stages.boilerplate import run_boilerplate

        stages.append(GlobalStage("boilerplate", partial(run_boilerplate, config=curate.boilerplate)))
    if curate.exact_dedup.enabled:
        stages.append(GlobalStage("exact_dedup", run_exact_dedup))
    if curate.minhash.enabled:
        stages.append(GlobalStage("minhash", partial(run_minhash_stage, config=config, run=run)))
    if curate.quality.enabled:
        from stages.quality import run_quality

        stages.append(GlobalStage("quality", partial(run_quality, config=curate.quality, models_dir=run / "models")))
    from stages.buckets import run_buckets

    stages.append(GlobalStage("buckets", partial(run_buckets, config=curate.buckets)))
    return stages


def run_minhash_stage(inputs: list[Path], out_dir: Path, removed_dir: Path, config: CritmixConfig, run: RunDir) -> dict:
    """Signatures in parallel, one executor task per input file, then the LSH pass over all of them."""
    from stages.minhash import MinhashSignatures, run_minhash

    scratch, logging_dir = run / "tmp/minhash", run / "logs/minhash"  # outside work/: the next stage never reads them
    # An earlier attempt's completion markers would skip tasks; the signature files it finished are reused anyway.
    clear(logging_dir)
    if config.curate.executor == "slurm":  # the global stages run in the finishing job, on its own cores
        config = dataclasses.replace(config, curate=dataclasses.replace(config.curate, executor="local"))
    steps = [MinhashSignatures([str(p) for p in inputs], str(scratch), config.curate.minhash)]
    run_on_executor(config, steps, logging_dir, "minhash signatures", tasks=max(1, len(inputs)))
    return phase_bars(lambda progress: run_minhash(inputs, out_dir, removed_dir, config.curate.minhash, scratch,
                                                   progress=progress))


def ingest_steps(config: CritmixConfig, run: RunDir) -> list:
    from stages.heuristics import HeuristicFilters
    from stages.langid import LanguageId
    from stages.normalize import Normalizer
    from stages.readers import SourceReader
    from stages.toxicity import ToxicityFilter
    from stages.writers import WorkWriter

    curate = config.curate
    return [
        SourceReader([s.spec(Path.cwd()) for s in config.sources]),
        Normalizer(curate.normalize),
        *([LanguageId(curate.langid)] if curate.langid.enabled else []),
        *([HeuristicFilters(curate.heuristics)] if curate.heuristics.enabled else []),
        *([ToxicityFilter(curate.toxicity)] if curate.toxicity.enabled else []),
        WorkWriter(str(run / "work/ingest"), str(run / "removed")),
    ]


def check_sources(config: CritmixConfig) -> dict[str, str]:
    """Structural checks before anything is written; returns input checksums."""
    if not config.sources:
        raise ConfigError("no sources configured: add a 'sources:' list to the config or pass --source NAME:DOMAIN:GLOB")
    checksums = {}
    for source in config.sources:
        files = source.spec(Path.cwd()).files()
        if not files:
            hint = " (run `make corpus` to fetch the demo corpus)" if any("data/raw" in p for p in source.paths) else ""
            raise ConfigError(f"source '{source.name}': no file matches {source.paths}{hint}")
        for path in files:
            checksums[str(path)] = file_sha256(path)
    return checksums


def preflight(config: CritmixConfig, run_path: Path) -> dict:
    """Everything a run needs, checked before any stage runs or anything is written; returns what the manifest
    records of it: the input checksums and, in words, the quality model that will score the run."""
    checks = {"inputs": check_sources(config)}
    ingest_steps(config, RunDir(run_path))  # each step checks its settings (word lists, models) as it is built
    if config.curate.quality.enabled:
        from stages.quality import planned_model

        checks["quality_model"] = planned_model(config.curate.quality, [s.name for s in config.sources])
        console.print(f"quality model: {checks['quality_model']}")
    return checks


def prepare_slurm(executor, run: RunDir) -> list[Path]:
    """Write the ingest array job and the job that finishes the run; submit them if configured.

    The finishing job reruns ``critmix curate`` with the local executor: it finds every ingest
    task completed (datatrove's completion markers) and runs the global stages.
    """
    slurm_dir = run / "slurm"
    slurm_dir.mkdir(parents=True, exist_ok=True)
    ingest_script = executor.get_launch_file_contents(
        executor.get_sbatch_args(executor.tasks),
        f"launch_pickled_pipeline {executor.logging_dir.resolve_paths('executor.pik')}",
    )
    with executor.logging_dir.open("executor.pik", "wb") as handle:
        import dill

        dill.dump(executor, handle)
    finish_script = "\n".join([
        "#!/bin/bash", "#SBATCH --job-name=critmix-finish", f"#SBATCH --partition={executor.partition}",
        f"#SBATCH --time={executor.time}", f"#SBATCH --cpus-per-task={max(2, executor.cpus_per_task)}",
        f"cd {Path.cwd()}", f"{sys.executable} -m pipeline curate --run {run.path.resolve()} "
        f"--config {(run / 'config.yaml').resolve()} --executor local", "",
    ])
    paths = [slurm_dir / "ingest.slurm", slurm_dir / "finish.slurm"]
    for path, text in zip(paths, (ingest_script, finish_script)):
        atomic_write_text(path, text)
    return paths


def read_counts(logging_dir: Path) -> dict[str, int]:
    """Documents read per source, from the reader's counters in datatrove's per-task stats."""
    counts: dict[str, int] = {}
    for stats_file in sorted((logging_dir / "stats").glob("*.json")):
        for step in json.loads(stats_file.read_text()):
            for label, value in step.get("stats", {}).items():
                if label.startswith("read:"):
                    total = value["total"] if isinstance(value, dict) else value
                    source = label.removeprefix("read:")
                    counts[source] = counts.get(source, 0) + int(total)
    return counts


def submit_slurm(scripts: list[Path], submit: bool) -> str:
    ingest, finish = scripts
    if not submit:
        return (f"wrote {ingest} and {finish}; submit with:\n  jid=$(sbatch --parsable {ingest}) && "
                f"sbatch --dependency=afterok:$jid {finish}\n(or set curate.slurm.submit=true)")
    job = subprocess.check_output(["sbatch", "--parsable", str(ingest)], text=True).strip()
    subprocess.check_call(["sbatch", f"--dependency=afterok:{job}", str(finish)])
    return f"submitted ingest job {job}; the finishing job runs after it"


def clear(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def start_ingest(run: RunDir, key: str) -> Path:
    """Record the ingest stage as running; returns its logging directory."""
    entry = run.manifest["stages"].get("ingest", {})
    if entry.get("key") != key:  # a different config or input: nothing of the old attempt is reusable
        clear(run / "work", run / "removed", run / "logs", run / "shards")
        run.manifest["stages"] = {}
    run.record_stage("ingest", key, "running")
    return run / "logs/ingest"


def run_ingest(config: CritmixConfig, run: RunDir, key: str) -> dict:
    logging_dir = start_ingest(run, key)
    run_on_executor(config, ingest_steps(config, run), logging_dir, "ingest", config.curate.tasks)
    return {"counters": {"read": read_counts(logging_dir)}}


def submit_ingest(config: CritmixConfig, run: RunDir, key: str) -> str:
    """Send the ingest stage to Slurm; the rest runs when its finishing job calls ``critmix curate`` again."""
    from pipeline.executors import make_executor

    logging_dir = start_ingest(run, key)
    executor = make_executor(config.curate, ingest_steps(config, run), logging_dir, config.curate.tasks)
    return submit_slurm(prepare_slurm(executor, run), config.curate.slurm.submit)


def run_on_executor(config: CritmixConfig, steps: list, logging_dir: Path, description: str, tasks: int) -> None:
    """Run datatrove steps as ``tasks`` tasks on the configured local or Ray executor, with a progress bar."""
    from pipeline.executors import make_executor

    executor = make_executor(config.curate, steps, logging_dir, tasks)
    completions = logging_dir / "completions"
    run_with_task_progress(executor.run, description, lambda: len(list(completions.glob("*"))), tasks)


def run_global(stage: GlobalStage, inputs: list[Path], run: RunDir) -> dict:
    out_dir = run / f"work/{stage.name}"
    clear(out_dir, run / f"removed/stage={stage.name}")
    out_dir.mkdir(parents=True)
    return {"counters": stage.run(inputs, out_dir, run / "removed")}


def run_write_shards(inputs: list[Path], run: RunDir) -> dict:
    from stages.shards import write_shards

    clear(run / "shards")
    return {"counters": write_shards(inputs, run / "shards"), "outputs": tree_checksums(run / "shards")}


def run_stage(run: RunDir, name: str, key: str, work: Callable[[], dict]) -> None:
    """Run a stage unless the manifest has it done with the same key; record what it did."""
    if run.stage_done(name, key):
        console.print(f"[dim]{name}: up to date, skipped[/]")
        return
    started = time.time()
    fields = timed_stage(name, work)
    run.record_stage(name, key, "done", seconds=round(time.time() - started, 2), **fields)


def count_by_source(root: Path) -> dict[str, int]:
    import pyarrow.dataset as ds

    files = [str(p) for p in finished_files(root)]
    if not files:
        return {}
    table = ds.dataset(files, format="parquet").to_table(columns=["source"])
    counts = table.group_by("source").aggregate([("source", "count")])
    return dict(zip(counts["source"].to_pylist(), counts["source_count"].to_pylist()))


def check_counts(run: RunDir) -> dict:
    """docs in = docs kept + docs removed, per source; raises if any document went missing."""
    read = run.manifest["stages"]["ingest"]["counters"]["read"]
    kept, removed = count_by_source(run / "shards"), count_by_source(run / "removed")
    table = {s: {"in": n, "kept": kept.get(s, 0), "removed": removed.get(s, 0)} for s, n in sorted(read.items())}
    wrong = {s: c for s, c in table.items() if c["in"] != c["kept"] + c["removed"]}
    if wrong:
        raise CountMismatch(f"documents lost or duplicated (in != kept + removed): {wrong}; rerun with --force")
    return table


def curate(config: CritmixConfig, run: RunDir, checks: dict, force: bool = False) -> dict | None:
    """Run every stage that is not already done (``checks``: what ``preflight`` found); returns the per-source
    count table, or None when the ingest stage went to Slurm."""
    if force:
        run.manifest["stages"] = {}
    run.manifest.update(
        config=to_mapping(config), config_hash=config.output_hash(),
        packages=package_versions(), **checks,
    )
    atomic_write_text(run / "config.yaml", config.dump())
    key = stage_key(config.output_hash(), checks["inputs"])
    if config.curate.executor == "slurm" and not run.stage_done("ingest", key):
        console.print(submit_ingest(config, run, key))
        return None
    run_stage(run, "ingest", key, lambda: run_ingest(config, run, key))
    inputs = sorted((run / "work/ingest").glob("*.parquet"))
    for stage in global_stages(config, run):
        key = stage_key(key, stage.name)
        run_stage(run, stage.name, key, lambda: run_global(stage, inputs, run))
        inputs = sorted((run / f"work/{stage.name}").glob("*.parquet"))
    run_stage(run, "shards", stage_key(key, "shards"), lambda: run_write_shards(inputs, run))
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
        "curate", help="sources -> filtered, deduplicated, bucketed shards",
        description="Read every configured source, normalize, filter and deduplicate, and write "
        "Hive-partitioned Parquet shards under <run>/shards/. Finished stages are skipped.",
    )
    add_config_args(parser)
    parser.add_argument("--source", action="append", default=[], metavar="NAME:DOMAIN:GLOB",
                        help="a source from the command line (repeatable); added to the recipe when --config is given, "
                        "else curated alone into runs/<its name>/")
    parser.add_argument("--workers", type=int, help="parallel worker processes (default: curate.workers)")
    parser.add_argument("--tasks", type=int, help="tasks the input is split into (default: curate.tasks)")
    parser.add_argument("--executor", choices=["local", "ray", "slurm"],
                        help="datatrove executor (default: curate.executor); slurm writes sbatch scripts for a cluster")
    parser.add_argument("--force", action="store_true", help="rerun every stage even if it is up to date")
    parser.set_defaults(func=main, config=None)  # None: configs/demo.yaml, unless --source gives the sources


def main(args) -> int:
    overrides = [f"curate.{k}={getattr(args, k)}" for k in ("workers", "tasks", "executor") if getattr(args, k)]
    config = load_args_config(args, extra_overrides=overrides, extra_sources=args.source)
    checks = preflight(config, run_dir_for(args, config))  # nothing is written before the config is known to be usable
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
