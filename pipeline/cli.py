"""The ``critmix`` command line. Each subcommand lives in ``pipeline/commands/<command>.py`` and exposes
``register(subparsers)``; the options they share are in ``pipeline/commands/args.py``, which they import at
the top (this module imports them). Heavy libraries are imported where used, so help is instant."""

from __future__ import annotations

import argparse
import importlib
import sys

from core.errors import exit_code
from pipeline.signals import forward_signals

COMMANDS = [
    "corpus",
    "curate",
    "verify",
    "sql",
    "explain",
    "report",
    "law",
    "plan",
    "train",
    "export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="critmix",
        description="Curate corpora into bucketed shards, plan the mixture with the CMR law, train on it.",
        epilog="Run `critmix <command> --help` for each command's options.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in COMMANDS:
        importlib.import_module(f"pipeline.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def work() -> int:
        with forward_signals():
            return args.func(args)

    return exit_code(work, f"critmix {args.command}")


if __name__ == "__main__":
    sys.exit(main())
