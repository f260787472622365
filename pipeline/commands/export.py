"""``critmix export``: the run's token shards and curriculum in another trainer's format
(pipeline/export/; the formats are the keys of its ``FORMATS`` registry)."""

from __future__ import annotations

from pathlib import Path

from core.errors import CritmixError
from pipeline.commands.args import (
    add_config_args,
    load_args_config,
    require_curated,
    require_shards,
    run_dir_for,
)
from pipeline.export import FORMATS
from pipeline.progress import console
from pipeline.rundir import RunDir
from trainer.curriculum import load_curriculum


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write the run's tokens and curriculum for Megatron-Core, OLMo-core or nanotron",
        description="Tokenize the run's shards on the executor (a task per shard file, resumable), then write "
        "one file set per domain x bucket and per phase the config the trainer reads to sample it.",
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
        "--tokenizer",
        metavar="PATH",
        help="a local tokenizer.json or Hugging Face tokenizer directory (default: train.tokenizer.path, "
        "else the run's own BPE, trained on the shards if the run has none yet)",
    )
    parser.add_argument(
        "--eos",
        metavar="TOKEN",
        help="the token that ends every document (default: train.tokenizer.eos, else the tokenizer's "
        "own: the eos_token of a tokenizer_config.json beside it, else <|endoftext|>, </s> ...)",
    )
    parser.add_argument(
        "--dtype",
        choices=sorted({str(d) for writer in FORMATS.values() for d in writer.dtypes}),
        help="the token dtype (default: the format's choice for the vocabulary size)",
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
    from pipeline.export.run import ExportSettings, export
    from pipeline.export.tokenize import load_export_tokenizer

    config = load_args_config(args)
    if args.global_batch < 1 or (args.seq_len is not None and args.seq_len < 1):
        raise CritmixError("--global-batch and --seq-len must be positive")
    require_curated(run_dir_for(args, config), args)
    with RunDir(run_dir_for(args, config)) as run:
        spec = Path(args.curriculum) if args.curriculum else run / "plan/curriculum.yaml"
        if not spec.exists():
            raise CritmixError(
                f"no curriculum at {spec}: run `make plan` (or `./critmix plan`) first, "
                "or pass --curriculum FILE"
            )
        require_shards(run.path, args)
        curriculum = load_curriculum(spec)
        tokenizer = load_export_tokenizer(
            args.tokenizer or config.train.tokenizer.path or run_tokenizer(run, config),
            args.eos or config.train.tokenizer.eos,
        )
        settings = ExportSettings(
            run_id=str(run.path.absolute()),
            tokenizer=tokenizer,
            global_batch=args.global_batch,
            seq_len=args.seq_len or config.train.model.seq_len,
            max_epochs=config.train.data.max_epochs,
            val_fraction=config.train.data.val_fraction,
            curate=config.curate,
            dtype=args.dtype,
        )
        out = Path(args.out) if args.out else run / f"export/{args.format}"
        manifest = export(run / "shards", curriculum, FORMATS[args.format], out, settings)
    console.print(
        f"done: {len(manifest['files'])} file sets and {len(manifest['phases'])} phase configs in "
        f"{out}; see {out / 'manifest.json'}"
    )
    return 0


def run_tokenizer(run: RunDir, config) -> Path:
    """The run's own BPE, ``<run>/tokens/tokenizer.json``, the one its trainer uses (trained if missing)."""
    from trainer.data.tokenize import discover_buckets, ensure_tokenizer

    return ensure_tokenizer(discover_buckets(run / "shards"), run / "tokens", config.train)
