"""Token shards of two domains and three buckets (the trainer tests' synthetic shards), tokenized
once per session by critmix's own tokenize, and the two-phase curriculum the exports are made of."""

from __future__ import annotations

import pytest

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
STEP = 4 * 32  # global batch x sequence length: 2048 tokens are 16 iterations
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


@pytest.fixture(scope="session")
def tokens(tmp_path_factory):
    shards = write_shards(tmp_path_factory.mktemp("export-shards"), seed=3)
    out = tmp_path_factory.mktemp("export-tokens")
    tokenize_shards(shards, out, tiny_config())
    return out
