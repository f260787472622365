from pathlib import Path

import numpy as np
import pytest

from core.errors import CritmixError
from stages.plan.data.curves import (
    at_tokens,
    law_free_cmr,
    piecewise_crossing,
    pilots_of,
    read_curves,
    smooth_crossing,
)
from tests.stages.plan.cmr_shapes import PILOT_TOKENS, make_curves

REAL_CURVES = Path(__file__).parents[2] / "data" / "cmr-small-scale-curves.csv"


def write(path, curves, columns):
    rows = zip(*(curves[c] for c in columns))
    path.write_text(
        ",".join(columns) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)
    )
    return path


def test_the_seed_column_is_optional_and_every_seed_is_kept(tmp_path):
    curves = make_curves("recovery", seeds=3, points=8)
    with_seed = read_curves(write(tmp_path / "a.csv", curves, list(curves)))
    assert sorted(set(with_seed["seed"])) == [0, 1, 2]
    pilots = pilots_of(with_seed, "synth")
    assert (
        pilots.tokens.shape == (6, 3, 9) and pilots.seeds == 3
    )  # 6 ratios, 3 seeds, origin + 8 points
    one = read_curves(REAL_CURVES)
    assert set(one["seed"]) == {0} and pilots_of(one, "legal").seeds == 1


def test_cutting_pilots_keeps_only_what_they_had_seen():
    pilots = pilots_of(make_curves("logistic", points=20), "synth")
    half = pilots.cut(PILOT_TOKENS / 2)
    assert half.pilot_tokens <= PILOT_TOKENS / 2 < pilots.pilot_tokens
    assert (
        half.weights.sum() < pilots.weights.sum()
        and (half.tokens[half.weights > 0] <= PILOT_TOKENS / 2).all()
    )
    assert half.ratios.size == pilots.ratios.size


def test_measured_losses_are_interpolated_between_evaluations_and_averaged_over_seeds():
    pilots = pilots_of(
        make_curves("recovery", seeds=2, points=10, noise=0.0, run_spread=0.0), "synth"
    )
    exact = pilots.d_general[:, 0, -1]
    assert at_tokens(pilots, pilots.d_general, PILOT_TOKENS) == pytest.approx(exact)
    between = at_tokens(pilots, pilots.d_general, 0.8 * PILOT_TOKENS)
    last_two = pilots.d_general[:, 0, -2:]
    assert ((between - last_two.min(axis=1)) >= -1e-12).all() and (
        (last_two.max(axis=1) - between) >= -1e-12
    ).all()
    assert np.isnan(at_tokens(pilots, pilots.d_general, 2 * PILOT_TOKENS)).all()


def test_the_law_free_crossing_of_the_reference_curves_is_the_measured_0548():
    # R = 1/2 ends 0.031 above the base, R = 3/4 0.159: convex, so above the linear 0.538.
    assert law_free_cmr(
        pilots_of(read_curves(REAL_CURVES), "legal"), 0.05, 999424
    ) == pytest.approx(0.548, abs=1e-3)


def test_the_smooth_crossing_removes_the_linear_ones_convexity_bias():
    ratios = np.array([0.25, 0.5, 0.75, 1.0])
    curvature = np.random.default_rng(0).uniform(0.2, 0.4, 20)
    values = curvature[:, None] * ratios**2 + 0.01
    truth = np.sqrt(0.04 / curvature)
    assert (piecewise_crossing(ratios, values, 0.05) < truth - 0.005).all()  # biased low
    assert smooth_crossing(ratios, values, 0.05) == pytest.approx(truth, abs=1e-3)
    # R = 1 stays out of the fit (another regime on real curves), and the ends behave as the linear one's.
    values[:, -1] = 5.0
    assert smooth_crossing(ratios, values, 0.05) == pytest.approx(truth, abs=1e-3)
    assert smooth_crossing(ratios, [0.1, 0.2, 0.3, 0.4], 0.04)[0] == 0.0
    assert smooth_crossing(ratios, [0.0, 0.0, 0.0, 0.01], 0.04)[0] == 1.0


def test_piecewise_crossing_takes_the_largest_ratio_within_tolerance():
    ratios = np.array([0.25, 0.5, 0.75, 1.0])
    assert piecewise_crossing(ratios, [0.0, 0.02, 0.06, 0.2], 0.04)[0] == pytest.approx(0.625)
    assert piecewise_crossing(ratios, [0.1, 0.2, 0.3, 0.4], 0.04)[0] == 0.0
    assert piecewise_crossing(ratios, [0.0, 0.0, 0.0, 0.01], 0.04)[0] == 1.0


def with_control(curves, general_drop):
    """The curves plus an R = 0 control whose general loss falls by ``general_drop`` over the pilot
    (continued general training on a base that has not converged)."""
    first = (curves["ratio"] == curves["ratio"][0]) & (curves["seed"] == 0)
    t = curves["tokens"][first] / PILOT_TOKENS
    control = {k: v[first].copy() for k, v in curves.items()}
    control["ratio"][:] = 0.0
    control["general_loss"] = curves["general_loss"][first][0] - general_drop * t
    return {k: np.concatenate([curves[k], control[k]]) for k in curves}


def test_the_control_pilot_is_the_default_reference_and_shifts_the_general_change():
    curves = make_curves("recovery", seeds=1, noise=0.0, run_spread=0.0)
    both = with_control(curves, general_drop=0.04)
    against_control = pilots_of(both, "synth")
    against_base = pilots_of(both, "synth", reference="base")
    assert against_control.reference == "control" and against_base.reference == "base"
    assert against_control.control_general_change == pytest.approx(-0.04)
    end = at_tokens(against_control, against_control.d_general, PILOT_TOKENS)
    assert end == pytest.approx(
        at_tokens(against_base, against_base.d_general, PILOT_TOKENS) + 0.04
    )
    assert 0.0 not in against_control.ratios  # the control is a reference, not a ratio to fit
    with pytest.raises(CritmixError, match="no R = 0 control rows"):
        pilots_of(curves, "synth", reference="control")
