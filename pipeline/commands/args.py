"""What the command modules share: the config options, the loaded config, and the run directory.
A leaf module, so that each command imports it at the top (``pipeline/cli.py`` imports the commands)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from core.errors import CritmixError
from pipeline.config import load_config


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
    """The run a reading command (sql, explain, report) looks at; the config is loaded only without --run."""
    run_dir = Path(args.run) if args.run else run_dir_for(args, load_args_config(args))
    if not (run_dir / "manifest.json").exists():
        raise CritmixError(
            f"{run_dir} is not a critmix run yet; run `{curate_command(args)}` first"
        )
    return run_dir


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
