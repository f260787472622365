"""The ``critmix`` command line. Each subcommand lives in ``pipeline/<command>.py`` and exposes
``register(subparsers)``; heavy imports happen inside each command's ``main`` so help is instant."""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from trainer.errors import CritmixError, exit_code

COMMANDS = ["corpus", "curate", "sql", "explain", "report", "law", "plan", "train"]


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """The options every config-driven command shares."""
    parser.add_argument("--config", default="configs/demo.yaml", metavar="FILE",
                        help="YAML recipe (default: configs/demo.yaml); it holds only the keys it changes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set curate.workers=1 (repeatable)")
    parser.add_argument("--run", metavar="DIR", help="run directory (default: runs/<config name>/)")


def load_args_config(args, extra_overrides=(), extra_sources=()):
    from pipeline.config import load_config

    return load_config(args.config, [*args.set, *extra_overrides], extra_sources)


def run_dir_for(args, config) -> Path:
    return Path(args.run) if getattr(args, "run", None) else Path("runs") / config.name


def curated_run_dir(args) -> Path:
    """The run a reading command (sql, explain, report) looks at; the config is loaded only without --run."""
    run_dir = Path(args.run) if args.run else run_dir_for(args, load_args_config(args))
    if not (run_dir / "manifest.json").exists():
        raise CritmixError(f"{run_dir} is not a critmix run; run `make curate` first or pass --run DIR")
    return run_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="critmix",
        description="Curate corpora into bucketed shards, plan the mixture with the CMR law, train on it.",
        epilog="Run `critmix <command> --help` for each command's options.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in COMMANDS:
        importlib.import_module(f"pipeline.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_code(lambda: args.func(args), f"critmix {args.command}")


if __name__ == "__main__":
    sys.exit(main())
