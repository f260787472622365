"""``plan.target.params`` reaches the planner's fit: the CMR at the target size, each size's
beside it."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from pipeline.commands.plan import fit_domains
from pipeline.config import load_config
from tests.stages.plan.cmr_synth import sized_curves

SMALL_FIT = ["plan.bootstrap=8", "plan.budget=20000000000"]  # the synthetic pilots' budget


def test_the_plan_fits_at_the_configured_target_size(capsys):
    config = load_config("configs/tiny.yaml", [*SMALL_FIT, "plan.target.params=16e6"])
    fits, size_laws = fit_domains(config, sized_curves())
    law = size_laws["finance"]
    assert law["target_params"] == 16e6 and fits["finance"].cmr == law["cmr"]
    assert 0 < size_laws["finance"]["sizes"][-1]["cmr"] < fits["finance"].cmr
    said = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert "at 1.6e+07 parameters; each pilot size's own: 1e+06" in said


def test_without_a_target_the_plan_has_no_size_law():
    fits, size_laws = fit_domains(load_config("configs/tiny.yaml", SMALL_FIT), sized_curves())
    assert size_laws == {} and fits["finance"].cmr is not None


def test_a_non_positive_target_is_a_config_error():
    config = load_config("configs/tiny.yaml", [*SMALL_FIT, "plan.target.params=-5"])
    with pytest.raises(ConfigError, match="plan.target.params"):
        fit_domains(config, sized_curves())


@pytest.mark.slow
def test_a_tiny_plan_at_three_widths_plans_and_trains_the_target_model(tmp_path, in_repo):
    import csv
    import json

    import yaml

    from pipeline.cli import main
    from tests.pipeline.commands.test_plan import SMALL
    from trainer.curriculum import load_curriculum

    run = tmp_path / "run"
    assert main(["curate", "--config", "configs/tiny.yaml", "--run", str(run)]) == 0
    sized = ["--set", "plan.pilots.sizes=[64,96,128]", "--set", "plan.target.model=small"]
    plan = ["plan", "--config", "configs/tiny.yaml", "--run", str(run), *SMALL, *sized]
    assert main([*plan, "--set", "plan.bootstrap=20"]) == 0
    with (run / "plan/curves.csv").open() as f:
        params = sorted({float(r["params"]) for r in csv.DictReader(f)})
    assert len(params) == 3  # the trainer's counts, one per width
    law = yaml.safe_load((run / "plan/fit.yaml").read_text())["legal"]["size_law"]
    assert [s["params"] for s in law["sizes"]] == params and law["target_params"] > params[-1]
    assert law["ci"][0] <= law["cmr"] <= law["ci"][1]
    for width in (64, 96, 128):  # each size trained its own base model and pilots
        assert (run / f"sizes/w{width}/plan/base/final/config.json").exists()
    # The curriculum is the target's (its own base tokens per parameter), and train trains it.
    general = load_curriculum(run / "plan/curriculum.yaml").phases[0]
    assert general.tokens == round(8000 * law["target_params"] / params[-1])
    assert main(["train", "--config", "configs/tiny.yaml", "--run", str(run), *SMALL, *sized]) == 0
    trained = json.loads((run / "train/final/config.json").read_text())
    assert trained["hidden_size"] == 256
