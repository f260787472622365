"""Pilot curves at several model sizes (a params column) planned at a target size
(stages/plan/cmr/sizes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import CritmixError
from stages.plan.cmr.fit import fit_cmr
from stages.plan.cmr.sizes import fit_across_sizes
from stages.plan.data.curves import read_curves
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_synth import FORGETTING, make_curves, sized_curves

SETTINGS = FitSettings(draws=8)
# Larger models forget less: the general-loss change shrinks with size, so the ε CMR grows.


def test_the_target_cmr_continues_the_sizes_trend_with_each_size_beside_it():
    fits, laws = fit_across_sizes(sized_curves(), SETTINGS.at(target_params=16e6))
    law = laws["finance"]
    own = [s["cmr"] for s in law["sizes"]]
    assert [s["params"] for s in law["sizes"]] == sorted(FORGETTING)
    assert own == sorted(own) and own[0] < own[-1]
    fit = fits["finance"]
    assert fit.cmr == law["cmr"] > own[-1]
    assert fit.ci[0] <= fit.cmr <= fit.ci[1] and fit.ci == tuple(law["ci"])
    assert "size_extrapolation" in fit.ci_errors and any("size law" in w for w in fit.warnings)


def test_without_a_target_the_largest_size_answers_and_says_so():
    curves = sized_curves()
    fits, laws = fit_across_sizes(curves, SETTINGS)
    largest = {k: v[curves["params"] == 4e6] for k, v in curves.items()}
    assert laws == {} and fits["finance"].cmr == fit_cmr(largest, SETTINGS)["finance"].cmr
    assert any("plan.target.params" in w for w in fits["finance"].warnings)


def test_one_size_answers_unchanged_without_a_target_and_at_its_own_size():
    curves = make_curves(seed=3)
    plain = fit_cmr(curves, SETTINGS)["finance"].to_dict()
    assert fit_across_sizes(curves, SETTINGS)[0]["finance"].to_dict() == plain
    curves["params"] = np.full(curves["ratio"].shape, 2e6)
    at_own = fit_across_sizes(curves, SETTINGS.at(target_params=2e6))[0]["finance"]
    assert at_own.cmr == plain["cmr"]


@pytest.mark.parametrize("params", [None, 2e6])
def test_one_size_cannot_be_extrapolated_to_another(params):
    curves = make_curves(seed=3)
    if params:
        curves["params"] = np.full(curves["ratio"].shape, params)
    with pytest.raises(CritmixError, match="cannot be extrapolated") as err:
        fit_across_sizes(curves, SETTINGS.at(target_params=16e6))
    assert "\n" not in str(err.value)


def write_csv(path, curves):
    rows = zip(*curves.values())
    path.write_text(",".join(curves) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_the_params_column_is_read_when_present_and_must_be_positive(tmp_path):
    curves = sized_curves()
    read = read_curves(write_csv(tmp_path / "sized.csv", curves))
    assert sorted(set(read["params"])) == sorted(FORGETTING)
    assert "params" not in read_curves(write_csv(tmp_path / "one.csv", make_curves()))
    curves["params"][0] = 0
    with pytest.raises(CritmixError, match="positive parameter count"):
        read_curves(write_csv(tmp_path / "bad.csv", curves))
