"""``python -m trainer tokenize|train|train-many``: see trainer/data/tokenize.py and trainer/loop.py.

Only the `train:` section of --config is read; --set overrides are relative to it (optim.micro_batch=8).
``train-many --runs runs.json`` trains several runs in one process, one after another: a JSON list of
``{"curriculum": path, "out": dir, "set": [KEY=VALUE, ...]}`` sharing --tokens, --config and --set. Each
run is exactly what ``train`` with the same arguments writes (its seed is set afresh when it starts);
a finished one (``final/config.json``) is skipped, and a stopped one resumes when the command is run again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from core.errors import ConfigError, Terminated, create_output_dir, exit_code
from core.locks import LockHeld, lock_for_life
from trainer.config import load_train_config


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    tok = sub.add_parser(
        "tokenize", help="train the BPE tokenizer if absent and write token shards per bucket"
    )
    tok.add_argument(
        "--shards",
        required=True,
        help="a run's shards/ directory (domain=*/quality=*/part-*.parquet)",
    )
    tok.add_argument(
        "--out", required=True, help="tokens directory to write (tokenizer.json, train/, val/)"
    )
    fit = sub.add_parser("train", help="train the curriculum's phases on token shards")
    fit.add_argument(
        "--curriculum", required=True, help="curriculum.yaml (see trainer/curriculum.py)"
    )
    fit.add_argument("--tokens", required=True, help="tokens directory written by `tokenize`")
    fit.add_argument("--out", required=True, help="output directory; a run found there is resumed")
    many = sub.add_parser(
        "train-many", help="train several curricula one after another in this one process"
    )
    many.add_argument("--runs", required=True, help="JSON list of {curriculum, out, set}")
    many.add_argument("--tokens", required=True, help="tokens directory written by `tokenize`")
    for command in (tok, fit, many):
        command.add_argument("--config", help="recipe YAML; only its train: section is read")
        command.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a train: key, e.g. --set optim.micro_batch=8 (repeatable)",
        )
    return root


def lock_output(out: str):
    """Hold ``out`` for this process's life. The kernel drops the lock when the process dies, however it dies,
    so a trainer left running by a killed ``critmix train`` still keeps a second one out."""
    folder = Path(out)
    create_output_dir(folder, "--out")
    try:
        return lock_for_life(folder / ".trainer.lock")
    except LockHeld as held:
        raise ConfigError(
            f"{folder} is in use by trainer process {held.holder}; "
            "wait for it to finish, or pass another --out"
        ) from None


def listed_runs(path: str) -> list[dict]:
    try:
        runs = json.loads(Path(path).read_text())
        if isinstance(runs, list) and all({"curriculum", "out"} <= set(r) for r in runs):
            return runs
    except (OSError, ValueError, TypeError):
        pass
    raise ConfigError(f"--runs {path}: expected a JSON list of {{curriculum, out, set}} objects")


def run_many(args) -> None:
    """Each listed run under its own lock, in order; a stop ends the command after that run's checkpoint."""
    from trainer.loop import STOP_REQUESTED

    for entry in listed_runs(args.runs):
        if STOP_REQUESTED.is_set():
            raise Terminated("stopped before every run was trained; run the same command again")
        if (Path(entry["out"]) / "final/config.json").exists():
            continue
        one = argparse.Namespace(
            command="train",
            config=args.config,
            set=[*args.set, *entry.get("set", [])],
            curriculum=entry["curriculum"],
            tokens=args.tokens,
            out=entry["out"],
        )
        with lock_output(one.out):
            run(one)


def run(args) -> None:
    config = load_train_config(args.config, args.set)
    if args.command == "tokenize":
        from trainer.data.tokenize import tokenize_shards

        tokenize_shards(args.shards, args.out, config)
    else:
        from trainer.curriculum import load_curriculum
        from trainer.loop import STOP_REQUESTED, train

        # SIGTERM and Ctrl-C alike: checkpoint after the step in progress, then stop. (Under `critmix`, a
        # Ctrl-C brings both: the terminal's SIGINT and the SIGTERM critmix passes on.)
        signals: list[int] = []

        def stop(signum: int, frame) -> None:
            signals.append(signum)
            STOP_REQUESTED.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop)
        if (
            train(config, load_curriculum(args.curriculum), args.tokens, args.out) is None
            and STOP_REQUESTED.is_set()
        ):
            if signals[-1] == signal.SIGINT:
                raise KeyboardInterrupt
            raise Terminated(
                f"checkpoint saved in {args.out}; run the same command again to resume"
            )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def locked_run() -> None:
        if args.command == "train-many":
            run_many(args)
            return
        # DDP ranks share --out; rank 0 holds it for all of them.
        with (
            lock_output(args.out)
            if int(os.environ.get("RANK", "0")) == 0
            else contextlib.nullcontext()
        ):
            run(args)

    return exit_code(locked_run, f"python -m trainer {args.command}")


if __name__ == "__main__":
    sys.exit(main())
