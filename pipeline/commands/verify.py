"""``critmix verify``: every file the manifest records for a curated run, hashed and compared."""

from __future__ import annotations

import sys

from pipeline.commands.args import add_config_args, curated_run_dir
from pipeline.rundir import RunDir
from pipeline.stage_files import damaged_files


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check every file of a curated run against the sha256 its manifest recorded",
        description="Hash every file each curate stage recorded in the run's manifest (shards, removed "
        "documents, work files, models) and say which are missing or changed. Exit 1 if any is; "
        "`critmix curate` with the same config then redoes the stages they belong to.",
    )
    add_config_args(parser)
    parser.set_defaults(func=main)


def main(args) -> int:
    run = RunDir(curated_run_dir(args))
    files = {
        stage: entry.get("files", {}) for stage, entry in sorted(run.manifest["stages"].items())
    }
    damaged = [
        f"critmix verify: {line} (stage {stage})"
        for stage, recorded in files.items()
        for line in damaged_files(run.path, recorded, full=True)
    ]
    for line in damaged:
        print(line, file=sys.stderr)
    if damaged:
        return 1
    print(f"{sum(map(len, files.values()))} files of {len(files)} stages as written in {run.path}")
    return 0
