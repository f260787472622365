"""``critmix curate``: the command line of a curate run (its flow is pipeline/curation/)."""

from __future__ import annotations

from pipeline.commands.args import add_config_args, load_args_config, run_dir_for
from pipeline.curation.preflight import preflight
from pipeline.curation.run import curate
from pipeline.executors import EXECUTORS
from pipeline.progress import console
from pipeline.rundir import RunDir


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
        if getattr(args, k) is not None  # --workers 0 is the user's, to be refused, not the default
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
