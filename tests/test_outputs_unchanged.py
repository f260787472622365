"""The tiny flow's outputs are byte-identical to the goldens in tests/data/output_checksums.json.

A refactor must leave every output as it was. When an output changes on purpose (a planner change that
moves fit.yaml, a new shard column), regenerate the goldens and commit them with the change:

    CRITMIX_WRITE_GOLDENS=1 .venv/bin/python -m pytest -q -m slow tests/test_outputs_unchanged.py
"""

import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO, tree_checksums

GOLDENS = REPO / "tests/data/output_checksums.json"
# Small pilots (three ratios, the least the CMR fit accepts) so that the whole flow stays a few minutes.
SMALL = [
    "--set",
    "plan.base_tokens=8000",
    "--set",
    "plan.pilots.tokens=12288",
    "--set",
    "plan.pilots.ratios=[0.25,0.5,1.0]",
    "--set",
    "plan.pilots.eval_points=8",
    "--set",
    "plan.pilots.first_eval_tokens=1024",
]
OUTPUTS = {
    "shards": "shards/**/*.parquet",
    "removed": "removed/**/*.parquet",
    "curves": "plan/curves.csv",
    "fit": "plan/fit.yaml",
    "curriculum": "plan/curriculum.yaml",
    "checkpoint": "train/final/*.safetensors",
}


def output_checksums(run: Path) -> dict[str, dict[str, str]]:
    return {kind: tree_checksums(run, pattern) for kind, pattern in OUTPUTS.items()}


@pytest.mark.slow
def test_the_tiny_flow_writes_the_golden_bytes(tmp_path, in_repo):
    from pipeline.cli import main

    run, words = tmp_path / "run", tmp_path / "words.txt"
    words.write_text(
        "warranty\n"
    )  # the toxicity filter on a one-word list, so that removed/ has documents
    toxicity = [
        "--set",
        "curate.toxicity.enabled=true",
        "--set",
        f"curate.toxicity.word_list={words}",
    ]
    for command, extra in (("curate", toxicity), ("plan", SMALL), ("train", SMALL)):
        assert main([command, "--config", "configs/tiny.yaml", "--run", str(run), *extra]) == 0, (
            command
        )
    found = output_checksums(run)
    assert all(found.values()), {
        kind: len(files) for kind, files in found.items()
    }  # every kind was written
    if os.environ.get("CRITMIX_WRITE_GOLDENS"):
        GOLDENS.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    assert found == json.loads(GOLDENS.read_text())
