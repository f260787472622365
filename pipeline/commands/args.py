"""What the command modules share: the config options, the loaded config, and the run directory.
A leaf module, so that each command imports it at the top (``pipeline/cli.py`` imports the commands)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from core.errors import CritmixError
from core.locks import lock_holder
from pipeline.config import load_config
from pipeline.rundir import RunDir


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """The options every config-driven command shares."""
    parser.add_argument(
        "--config",
        default="configs/demo.yaml",
        metavar="FILE",
        help="YAML recipe (default: configs/demo.yaml); it holds only the keys it changes",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set curate.workers=1 (repeatable)",
    )
    parser.add_argument("--run", metavar="DIR", help="run directory (default: runs/<config name>/)")


def load_args_config(args, extra_overrides=(), extra_sources=()):
    return load_config(args.config, [*args.set, *extra_overrides], extra_sources)


def run_dir_for(args, config) -> Path:
    return Path(args.run) if getattr(args, "run", None) else Path("runs") / config.name


def curated_run_dir(args) -> Path:
    """The run a reading command (sql, explain, report, verify) looks at, once its curate has finished; the
    config is loaded only without --run."""
    run_dir = Path(args.run) if args.run else run_dir_for(args, load_args_config(args))
    require_curated(run_dir, args)
    return run_dir


def require_curated(run_dir: Path, args) -> None:
    """A reader of a run sees a finished curate or is told why not: there is none yet, one is writing the
    run now, or the last one stopped before it finished (its shards may be partial). A finished curate is
    one whose manifest has its per-source counts: curate drops them when it starts and writes them last."""
    if not (run_dir / "manifest.json").exists():
        raise CritmixError(
            f"{run_dir} is not a critmix run yet; run `{curate_command(args)}` first"
        )
    if "counts" in RunDir(run_dir).manifest:
        return
    holder = lock_holder(run_dir / ".lock")
    if holder is not None:
        raise CritmixError(
            f"{run_dir} is being curated by process {holder}; wait for it to finish, then run this again"
        )
    raise CritmixError(
        f"the last curate of {run_dir} stopped before it finished; run `{curate_command(args)}` to finish it"
    )


def require_shards(run: Path, args) -> None:
    """A command that trains on the run's shards names the curate that writes them."""
    if not (run / "shards").exists():
        raise CritmixError(f"{run} has no shards: run `{curate_command(args)}` first")


def curate_command(args) -> str:
    """The ``critmix curate`` that writes the run this command reads."""
    words = [
        "critmix",
        "curate",
        "--config",
        args.config,
        *(w for item in args.set for w in ("--set", item)),
    ]
    return shlex.join(words + (["--run", args.run] if args.run else []))
