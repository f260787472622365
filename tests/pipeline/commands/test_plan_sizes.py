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
