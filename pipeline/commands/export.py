"""``critmix export``: the run's token shards and curriculum in another trainer's format
(pipeline/export/; the formats are the keys of its ``FORMATS`` registry)."""

from __future__ import annotations

from pathlib import Path

from core.errors import CritmixError
from pipeline.commands.args import add_config_args, load_args_config, run_dir_for
from pipeline.export import FORMATS
from pipeline.planning.trainer_runs import ensure_tokens, save_resolved_config
from pipeline.progress import console
from pipeline.rundir import RunDir
from trainer.curriculum import load_curriculum


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the run's tokens and curriculum for Megatron-Core (and other trainers)",
        description="Tokenize the run's shards if needed (the trainer's own tokenizer and token shards), then "
        "write one file set per domain x bucket and per phase the config the trainer reads to sample it.",
    )
    add_config_args(parser)
    parser.add_argument(
        "--format", required=True, choices=sorted(FORMATS), help="the target trainer"
    )
    parser.add_argument(
        "--curriculum",
        metavar="FILE",
        help="the curriculum to export (default: <run>/plan/curriculum.yaml)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="output directory (default: <run>/export/<format>)"
    )
    parser.add_argument(
        "--global-batch",
        type=int,
        default=512,
        metavar="N",
        help="sequences per optimizer step in the target trainer (default: 512); with "
        "--seq-len it sets each phase's iterations",
    )
    parser.add_argument(
        "--seq-len",
        type=int,
        metavar="N",
        help="the target trainer's sequence length (default: train.model.seq_len)",
    )
    parser.set_defaults(func=main)


def main(args) -> int:
    from pipeline.export.run import export

    config = load_args_config(args)
    with RunDir(run_dir_for(args, config)) as run:
        spec = Path(args.curriculum) if args.curriculum else run / "plan/curriculum.yaml"
        if not spec.exists():
            raise CritmixError(
                f"no curriculum at {spec}: run `make plan` (or `./critmix plan`) first, "
                "or pass --curriculum FILE"
            )
        if not (run / "shards").exists():
            raise CritmixError(f"{run.path} has no shards: run `make curate` first")
        curriculum = load_curriculum(spec)
        tokens = ensure_tokens(run, save_resolved_config(config, run))
        out = Path(args.out) if args.out else run / f"export/{args.format}"
        if args.global_batch < 1 or (args.seq_len is not None and args.seq_len < 1):
            raise CritmixError("--global-batch and --seq-len must be positive")
        step_tokens = args.global_batch * (args.seq_len or config.train.model.seq_len)
        manifest = export(
            tokens, curriculum, FORMATS[args.format], out, str(run.path.absolute()), step_tokens
        )
    console.print(
        f"done: {len(manifest['files'])} file sets and {len(manifest['phases'])} phase configs in "
        f"{out}; see {out / 'manifest.json'}"
    )
    return 0
