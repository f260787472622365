"""Parquet shards of two domains and three buckets (the trainer tests' synthetic shards), the token
shards critmix's own tokenize makes of them once per session (what every export must equal), and
the two-phase curriculum the exports are made of."""

from __future__ import annotations

import pytest

from pipeline.config import CurateConfig
from pipeline.export.run import ExportSettings
from pipeline.export.tokenize import load_export_tokenizer
from tests.trainer.conftest import tiny_config, two_domain_phase, write_shards
from trainer.curriculum import Curriculum, MetadataSpec
from trainer.data.tokenize import tokenize_shards
from trainer.data.tokens import TokenShard

CURRICULUM = Curriculum(
    phases=[
        two_domain_phase("base", tokens=2048, legal=0.1),
        two_domain_phase(
            "cpt", tokens=1024, legal=0.4, buckets={"high/long": 3.0, "mid/short": 1.0}
        ),
    ]
)
CURRICULUM.phases[1].metadata = MetadataSpec(template="{source} {domain}\n\n")


def shard_of(tokens_dir, file: dict) -> TokenShard:
    """The critmix token shard a manifest file was made from."""
    bucket = file["bucket"].replace("/", "__")
    return TokenShard(
        tokens_dir
        / (
            "val/" + file["domain"]
            if file["split"] == "valid"
            else f"train/{file['domain']}/{bucket}"
        )
    )


def settings(tokenizer, **changes) -> ExportSettings:
    """The tiny trainer config's export settings: 4 x 32 tokens a step (2048 tokens are 16 iterations)."""
    config = tiny_config()
    fields = dict(
        run_id="run-a",
        tokenizer=load_export_tokenizer(tokenizer),
        global_batch=4,
        seq_len=32,
        max_epochs=config.data.max_epochs,
        val_fraction=config.data.val_fraction,
        curate=CurateConfig(workers=1),
    )
    return ExportSettings(**dict(fields, **changes))


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    return write_shards(tmp_path_factory.mktemp("export-shards"), seed=3)


@pytest.fixture(scope="session")
def tokens(shards, tmp_path_factory):
    out = tmp_path_factory.mktemp("export-tokens")
    tokenize_shards(shards, out, tiny_config())
    return out
