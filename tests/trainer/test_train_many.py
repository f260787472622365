"""``python -m trainer train-many``: several runs in one process write exactly what each writes alone,
and a stopped one resumes to the uninterrupted result."""

import json
from pathlib import Path

import pytest

from tests.trainer.conftest import folder_digest, two_domain_phase
from tests.trainer.test_kill_resume import RECIPE
from trainer.__main__ import main as trainer_main
from trainer.curriculum import Curriculum, write_curriculum

TIMING = {"tokens_per_s", "loader_share"}  # wall-clock figures, the only lines that may differ


def runs(tmp_path: Path, label: str) -> list[dict]:
    """Three pilots of different mixtures and seeds (data orders), under ``tmp_path/label``."""
    entries = []
    for i, legal in enumerate([0.0, 0.3, 1.0]):
        spec = tmp_path / f"{label}-{i}.yaml"
        phase = two_domain_phase("cpt", tokens=768, init="scratch", legal=legal)
        write_curriculum(Curriculum(phases=[phase]), spec)
        entries.append(
            {"curriculum": str(spec), "out": str(tmp_path / label / str(i)), "set": [f"seed={i}"]}
        )
    return entries


def metrics(out: str) -> list[dict]:
    lines = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k not in TIMING} for line in lines]


def outputs(entry: dict) -> tuple:
    weights = folder_digest(Path(entry["out"]) / "final")
    return metrics(entry["out"]), weights


def train_many(tmp_path: Path, entries: list[dict], tokens: Path, *extra: str) -> int:
    listing = tmp_path / f"runs-{len(extra)}.json"
    listing.write_text(json.dumps(entries))
    config = tmp_path / "recipe.yaml"
    config.write_text(RECIPE)
    return trainer_main(
        [
            "train-many",
            "--runs",
            str(listing),
            "--tokens",
            str(tokens),
            "--config",
            str(config),
            *extra,
        ]
    )


@pytest.mark.slow
def test_pilots_in_one_process_equal_each_pilot_alone(tokens_dir, tmp_path):
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    alone = runs(tmp_path, "alone")
    for entry in alone:
        args = [
            "--curriculum",
            entry["curriculum"],
            "--tokens",
            str(tokens_dir),
            "--out",
            entry["out"],
        ]
        assert (
            trainer_main(
                ["train", *args, "--config", str(tmp_path / "recipe.yaml"), "--set", *entry["set"]]
            )
            == 0
        )
    fused = runs(tmp_path, "fused")
    assert train_many(tmp_path, fused, tokens_dir) == 0
    for one, many in zip(alone, fused, strict=True):
        assert len(metrics(one["out"])) > 6
        assert outputs(one) == outputs(many)
    # the three pilots really differ, so the equality above is not one run compared with itself
    assert len({json.dumps(metrics(e["out"])) for e in fused}) == 3


@pytest.mark.slow
def test_fused_pilots_stopped_part_way_resume_to_the_uninterrupted_result(tokens_dir, tmp_path):
    whole, stopped = runs(tmp_path, "whole"), runs(tmp_path, "stopped")
    assert train_many(tmp_path, whole, tokens_dir) == 0
    assert train_many(tmp_path, stopped, tokens_dir, "--set", "stop_after_steps=3") == 0
    assert all(not (Path(e["out"]) / "final").exists() for e in stopped)
    assert train_many(tmp_path, stopped, tokens_dir) == 0
    for one, other in zip(whole, stopped, strict=True):
        assert outputs(one) == outputs(other)
