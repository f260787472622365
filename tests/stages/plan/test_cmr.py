import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.optimize import brentq

from stages.plan.cmr.fit import fit_cmr, fit_domain, fit_pilots
from stages.plan.data.curves import law_free_cmr, pilots_of, read_curves
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_shapes import PILOT_TOKENS as SHAPE_TOKENS
from tests.stages.plan.cmr_shapes import make_curves as make_shape
from tests.stages.plan.cmr_shapes import true_cmr as true_shape_cmr
from tests.stages.plan.cmr_synth import (
    PILOT_TOKENS,
    make_curves,
    true_cmr,
    true_general_change,
    true_t0,
)

REAL_CURVES = Path(__file__).parents[2] / "data" / "cmr-small-scale-curves.csv"
BUDGET = 0.6  # of the pilot budget


def true_epsilon_cmr(budget=BUDGET, lam=1000.0, epsilon=0.05):
    return brentq(lambda r: true_general_change(r, budget, lam) - epsilon, 0.01, 1)


def test_synthetic_turnarounds_and_cmr_are_recovered():
    result = fit_domain(
        make_curves(noise=5e-4, seed=1), "finance", FitSettings(budget=BUDGET * PILOT_TOKENS)
    )
    for point in result.ratios:
        assert point.t0 / PILOT_TOKENS == pytest.approx(true_t0(point.ratio), rel=0.06)
    assert result.cmr_turnaround == pytest.approx(true_cmr(BUDGET), rel=0.05)
    assert result.cmr_epsilon == pytest.approx(true_epsilon_cmr(), rel=0.03)
    assert result.reliability["reliable"] and result.used == "min"
    assert result.cmr == min(result.cmr_turnaround, result.cmr_epsilon)
    assert result.binding == "epsilon"  # 0.17 < 0.61 in these laws


def test_no_feasible_ratio_says_so_and_suggests_a_larger_budget():
    result = fit_domain(
        make_curves(seed=2), "finance", FitSettings(epsilon=0.0, budget=0.05 * PILOT_TOKENS)
    )
    assert result.cmr == 0 and any("larger budget" in w for w in result.warnings)


def test_every_ratio_feasible_gives_one_with_a_warning():
    result = fit_domain(
        make_curves(seed=3), "finance", FitSettings(epsilon=1.0, budget=PILOT_TOKENS, lam=math.inf)
    )
    assert result.cmr_epsilon == 1 and result.cmr == 1
    assert [w for w in result.warnings if "every ratio is feasible" in w]


def test_cmr_law_leaving_the_unit_interval_is_clipped_and_warned():
    # The true CMR law reaches 1 at 90% of the pilot budget and keeps rising after it.
    result = fit_domain(
        make_curves(seed=4), "finance", FitSettings(epsilon=1.0, budget=PILOT_TOKENS)
    )
    assert result.cmr_turnaround == 1
    clipped = [
        w
        for w in result.warnings
        if re.fullmatch(r"the CMR law gives 1\.\d+ at the budget, outside \[0, 1\]; clipped", w)
    ]
    assert len(clipped) == 1
    assert result.reason.startswith("turnaround law clipped to [0, 1]")  # not called reliable


def test_far_extrapolation_is_warned_with_the_factor():
    result = fit_domain(make_curves(seed=5), "finance", FitSettings(budget=5 * PILOT_TOKENS))
    assert any("5.0× the pilot budget" in w for w in result.warnings)


def test_too_few_points_is_a_clear_answer():
    curves = make_curves(points=4)
    result = fit_domain(curves, "finance")
    assert result.cmr is None and "usable ratios" in result.reason
    assert all("only 4 CPT points" in w for w in result.warnings)


def test_real_small_scale_curves_are_handled_honestly():
    result = fit_cmr(read_curves(REAL_CURVES))["legal"]
    assert result.used == "epsilon" and result.binding == "epsilon"
    assert not result.reliability["reliable"] and result.reliability["turnarounds_bunched_early"]
    assert "unreliable" in result.reason
    # Measured: R = 1/2 is within ε at the budget, 3/4 is not; the crossing smooth in R gives ≈0.55.
    assert 0.5 < result.cmr_epsilon < 0.6 and result.cmr == result.cmr_epsilon
    assert result.cmr_turnaround is not None  # still reported, beside the flags
    # Within the pilots the ε view is the law-free crossing, smooth in R; no term is added to its
    # (seed-inflated) bootstrap spread.
    assert result.cmr_epsilon == pytest.approx(0.548, abs=1e-3) == result.epsilon_views["law_free"]
    assert result.ci_errors == {} and result.ci == result.ci_parts["bootstrap_law_free"]


def test_real_pilots_cut_short_hold_the_full_curves_crossing_in_their_interval():
    # The truth the real curves can give: the law-free crossing at their full length, which pilots
    # cut at 1/1.58 (the demo's factor) must predict past their own end.
    curves = read_curves(REAL_CURVES)
    full = pilots_of(curves, "legal")
    truth = law_free_cmr(full, 0.05, full.pilot_tokens)
    cut = fit_pilots(
        full.cut(full.pilot_tokens / 1.58), FitSettings(budget=full.pilot_tokens, draws=20)
    )
    assert cut.epsilon_views["law_free"] is None and cut.extrapolation_calibration["errors"] >= 19
    assert cut.ci[0] <= truth <= cut.ci[1], (cut.ci, truth)


def test_seeds_are_all_fitted_and_widen_the_interval_by_their_spread():
    one = fit_domain(make_shape("recovery", seed=3, seeds=1), "synth")
    four = fit_domain(make_shape("recovery", seed=3, seeds=4), "synth")
    assert one.seeds == 1 and four.seeds == 4
    assert four.cmr == pytest.approx(true_shape_cmr("recovery"), abs=0.03)
    noisy = fit_domain(make_shape("recovery", seed=3, seeds=4, run_spread=0.3), "synth")
    assert noisy.ci[1] - noisy.ci[0] > four.ci[1] - four.ci[0]


def test_past_the_pilots_the_interval_is_calibrated_at_the_plans_own_factor():
    curves = make_shape("logistic", seed=5)
    at_pilot = fit_domain(curves, "synth")
    twice = fit_domain(curves, "synth", FitSettings(budget=2 * SHAPE_TOKENS))
    calibration = twice.extrapolation_calibration
    assert twice.epsilon_views["law_free"] is None and calibration["factor"] == 2
    assert calibration["errors"] >= 19 and calibration["quantile"] > 0
    assert twice.ci[1] - twice.ci[0] > at_pilot.ci[1] - at_pilot.ci[0]
    below, above = twice.ci_errors["extrapolation"]
    assert twice.ci[0] <= twice.cmr - below + 1e-12 and twice.cmr + above - 1e-12 <= twice.ci[1]


def test_a_lower_level_gives_a_narrower_interval_past_and_within_the_pilots():
    curves = make_shape("recovery", seed=2)
    for budget in (SHAPE_TOKENS, 1.5 * SHAPE_TOKENS):
        wide, narrow = (
            fit_domain(curves, "synth", FitSettings(budget=budget, level=level)).ci
            for level in (0.95, 0.5)
        )
        assert narrow[1] - narrow[0] < 0.8 * (wide[1] - wide[0]), (budget, wide, narrow)


def test_pilots_too_short_to_calibrate_give_the_whole_unit_interval_and_say_why():
    curves = make_shape("recovery", points=5)
    result = fit_domain(curves, "synth", FitSettings(budget=3 * SHAPE_TOKENS))
    assert result.ci == (0.0, 1.0)
    assert [w for w in result.warnings if "extrapolation errors to calibrate on" in w]


def test_a_decay_exponent_at_its_bound_is_warned():
    # A tail that is flat from the start: the joint law's decay exponent has nothing to measure.
    curves = make_shape("recovery", seed=1)
    curves["general_loss"] = np.where(
        curves["tokens"] > 0, 3.2 + 0.1 * curves["ratio"], curves["general_loss"]
    )
    result = fit_domain(curves, "synth", FitSettings(draws=4))
    assert [w for w in result.warnings if "decay exponent sits at its bound" in w]


def test_result_dumps_to_plain_yaml():
    result = fit_cmr(read_curves(REAL_CURVES), FitSettings(draws=8))["legal"]
    text = yaml.safe_dump(result.to_dict())
    assert yaml.safe_load(text)["cmr"] == pytest.approx(result.cmr)
    assert (
        yaml.safe_load(
            yaml.safe_dump(
                fit_domain(make_curves(), "finance", FitSettings(lam=math.inf, draws=8)).to_dict()
            )
        )["lam"]
        == "inf"
    )


def test_the_predicted_general_change_per_ratio_is_measured_within_the_pilots_and_lawful_past_them():
    curves = read_curves(REAL_CURVES)
    within = fit_domain(curves, "legal", FitSettings(draws=20)).general_change
    assert within["source"] == "measured" and within["ratios"][3] == 0.5
    assert within["change"][3] == pytest.approx(
        0.0306, abs=1e-3
    )  # R = 1/2 ends 0.031 above the base
    assert all(lo <= c <= hi for lo, c, hi in zip(within["low"], within["change"], within["high"]))
    past = fit_domain(curves, "legal", FitSettings(draws=20, budget=2e6)).general_change
    assert (
        past["source"] == "joint law" and past["change"][3] < within["change"][3]
    )  # still recovering
