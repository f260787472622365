"""``critmix train``: train on a curriculum (the planned one by default) and record the outcome.

The training itself is ``python -m trainer train`` in its own process, exactly what a GPU host
runs; this command only finds the inputs, runs it and points at the results.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import CritmixError
from pipeline.commands.args import add_config_args, load_args_config, require_shards, run_dir_for
from pipeline.planning.sizes import target_overrides
from pipeline.planning.trainer_runs import (
    ensure_tokens,
    run_trainer,
    save_resolved_config,
    train_args,
)
from pipeline.progress import TrainingLines, console
from pipeline.rundir import RunDir
from trainer.curriculum import load_curriculum


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train on a curriculum (default: <run>/plan/curriculum.yaml)",
        description="Tokenize the run's shards if needed, then train phase by phase on the curriculum. "
        "Checkpoints, metrics.jsonl (per-domain validation loss) and the final HF model go to <run>/train/.",
    )
    add_config_args(parser)
    parser.add_argument(
        "--curriculum",
        metavar="FILE",
        help="any curriculum.yaml, including one written by hand (default: <run>/plan/curriculum.yaml)",
    )
    parser.add_argument("--out", metavar="DIR", help="output directory (default: <run>/train)")
    parser.set_defaults(func=main)


def main(args) -> int:
    config = load_args_config(args)
    with RunDir(run_dir_for(args, config)) as run:
        curriculum = Path(args.curriculum) if args.curriculum else run / "plan/curriculum.yaml"
        if not curriculum.exists():
            raise CritmixError(
                f"no curriculum at {curriculum}: run `make plan` (or `./critmix plan`) first, "
                f"or pass --curriculum FILE"
            )
        require_shards(run.path, args)
        config_path = save_resolved_config(config, run)
        tokens = ensure_tokens(run, config_path)
        out = Path(args.out) if args.out else run / "train"
        runs = [(curriculum, out)]
        validate = run / "plan/curriculum.validate.yaml"
        if config.plan.validate and not args.curriculum and validate.exists():
            runs.append(
                (validate, run / "train-validate")
            )  # 1.5x the planned ratio: does epsilon break?
        for spec, out_dir in runs:
            console.print(f"training on {spec} -> {out_dir} (log: {out_dir}.log)")
            run_trainer(
                train_args(config_path, spec, tokens, out_dir, *target_overrides(config)),
                out_dir.parent / f"{out_dir.name}.log",
                progress=TrainingLines(
                    out_dir.name,
                    out_dir / "metrics.jsonl",
                    sum(phase.tokens for phase in load_curriculum(spec).phases),
                ),
            )
    console.print(
        f"done: model in {out / 'final'}, per-domain losses in {out / 'metrics.jsonl'}; "
        f"`./critmix report` compares them with the plan"
    )
    return 0
