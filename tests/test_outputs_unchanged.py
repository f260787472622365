"""The tiny flow's outputs are byte-identical to the goldens in tests/data/output_checksums.json.

A refactor must leave every output as it was. When an output changes on purpose (a planner change that
moves fit.yaml, a new shard column), regenerate the goldens and commit them with the change.

Curation's outputs are the same bytes on every machine. Training's are not: torch picks its float
kernels by CPU (an AMD AVX2 machine and an Intel AVX-512 one train the same tiny model to different
bits), so its checksums are recorded per machine kind (``machine_kind``), and a kind with none recorded
checks the pilots' losses against tests/data/golden_curves.csv to a tolerance far below what any
planner change moves them. Writing the goldens adds or replaces this machine's kind and keeps the others:

    CRITMIX_WRITE_GOLDENS=1 .venv/bin/python -m pytest -q -m slow tests/test_outputs_unchanged.py
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, tree_checksums

GOLDENS = REPO / "tests/data/output_checksums.json"
GOLDEN_CURVES = REPO / "tests/data/golden_curves.csv"
LOSS_TOLERANCE = (
    1e-3  # relative; float kernels move the tiny flow's losses ~1e-5, a planner change far more
)
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
CURATION = {"shards": "shards/**/*.parquet", "removed": "removed/**/*.parquet"}
TRAINING = {
    "curves": "plan/curves.csv",
    "fit": "plan/fit.yaml",
    "curriculum": "plan/curriculum.yaml",
    "checkpoint": "train/final/*.safetensors",
}


def machine_kind() -> str:
    """What decides torch's CPU float kernels: the CPU's vendor and the instruction set torch uses."""
    import torch

    vendor = next(
        (
            line.split(":")[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("vendor_id")
        ),
        "unknown",
    )
    return f"{vendor} {torch.backends.cpu.get_cpu_capability()}"


def checksums(run: Path, outputs: dict[str, str]) -> dict[str, dict[str, str]]:
    return {kind: tree_checksums(run, pattern) for kind, pattern in outputs.items()}


def write_goldens(run: Path, curation: dict, training: dict) -> None:
    goldens = json.loads(GOLDENS.read_text()) if GOLDENS.exists() else {}
    recorded = {**goldens.get("training", {}), machine_kind(): training}
    GOLDENS.write_text(
        json.dumps({"curation": curation, "training": recorded}, indent=1, sort_keys=True) + "\n"
    )
    shutil.copyfile(run / "plan/curves.csv", GOLDEN_CURVES)


def assert_losses_match_the_golden_curves(curves: Path) -> None:
    import pandas as pd

    found, golden = pd.read_csv(curves), pd.read_csv(GOLDEN_CURVES)
    losses = ["general_loss", "domain_loss"]
    keys = [c for c in golden.columns if c not in losses]
    assert found[keys].equals(golden[keys]), "the pilots ran other ratios, seeds or evaluations"
    for column in losses:
        assert found[column].to_numpy() == pytest.approx(
            golden[column].to_numpy(), rel=LOSS_TOLERANCE
        ), column


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
    curation, training = checksums(run, CURATION), checksums(run, TRAINING)
    written = {**curation, **training}
    assert all(written.values()), {kind: len(files) for kind, files in written.items()}
    if os.environ.get("CRITMIX_WRITE_GOLDENS"):
        write_goldens(run, curation, training)
    goldens = json.loads(GOLDENS.read_text())
    assert curation == goldens["curation"]
    recorded = goldens["training"].get(machine_kind())
    if (
        recorded is None
    ):  # no checksums for this machine's float kernels: the losses, to a tolerance
        assert_losses_match_the_golden_curves(run / "plan/curves.csv")
    else:
        assert training == recorded


def test_a_machine_with_no_recorded_checksums_checks_the_losses_to_a_tolerance(tmp_path):
    import pandas as pd

    golden = pd.read_csv(GOLDEN_CURVES)
    kernels, planner = golden.copy(), golden.copy()
    kernels["general_loss"] *= 1 + 1e-5  # what other float kernels move
    planner.loc[3, "domain_loss"] *= 1.01  # what a changed pilot moves
    kernels.to_csv(tmp_path / "kernels.csv", index=False)
    planner.to_csv(tmp_path / "planner.csv", index=False)
    assert_losses_match_the_golden_curves(tmp_path / "kernels.csv")
    with pytest.raises(AssertionError, match="domain_loss"):
        assert_losses_match_the_golden_curves(tmp_path / "planner.csv")
