"""The size law (stages/plan/laws/sizes.py): the paper's Finance CMRs, and synthetic size series
from generators that are not the fitted form."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import CritmixError
from stages.plan.laws.sizes import DEFAULT_FORM, SizeCMR, predict_cmr_at_size

FINANCE = [SizeCMR(460e6, 0.298), SizeCMR(940e6, 0.349), SizeCMR(1.6e9, 0.414)]
FINANCE_3B = 0.478
PILOT_SIZES = 1e8 * np.array([1.0, 2.0, 4.0])
TARGET = 16e8  # 4x the largest pilot
NOISE = 0.015  # run-to-run spread of each size's CMR


def saturating_power(rng):
    """The family the default form was chosen on: c − k·(N/1e8)^−s."""
    c, k, s = rng.uniform(0.5, 0.9), rng.uniform(0.3, 0.8), rng.uniform(0.1, 0.4)
    return lambda n: c - k * (n / 1e8) ** -s


def tanh_in_log_size(rng):
    """The family it is judged on: a tanh step in ln N between two plateaus."""
    mid, width = rng.uniform(18, 23), rng.uniform(1.5, 4)
    low, high = rng.uniform(0.05, 0.2), rng.uniform(0.6, 0.9)
    return lambda n: low + (high - low) * (1 + np.tanh((np.log(n) - mid) / width)) / 2


def study(family, form=DEFAULT_FORM, trials=150):
    """Noisy CMRs at three sizes with ±2σ intervals, predicted at 4x the largest: per-trial error,
    coverage, width, and the largest pilot's own error."""
    rng = np.random.default_rng(1)
    rows = []
    for trial in range(trials):
        truth = family(rng)
        measured = np.clip(truth(PILOT_SIZES) + NOISE * rng.standard_normal(3), 0, 1)
        sizes = [
            SizeCMR(n, float(m), (m - 2 * NOISE, m + 2 * NOISE))
            for n, m in zip(PILOT_SIZES, measured)
        ]
        result = predict_cmr_at_size(sizes, TARGET, form=form, draws=200, seed=trial)
        true = truth(TARGET)
        low, high = result.ci
        own = abs(measured[-1] - true)
        rows.append((abs(result.cmr - true), low <= true <= high, high - low, own))
    error, covered, width, own = np.array(rows).T
    return {
        "error": np.median(error),
        "coverage": covered.mean(),
        "width": np.median(width),
        "own": np.median(own),
    }


def test_finance_three_sizes_predict_the_3b_cmr():
    result = predict_cmr_at_size(FINANCE, 3.1e9)
    assert abs(result.cmr - FINANCE_3B) <= 0.03
    assert result.ci[0] <= FINANCE_3B <= result.ci[1]
    assert result.ci[1] - result.ci[0] <= 0.15
    assert result.errors["size_backtest"] > 0


def test_default_form_wins_on_the_family_it_was_chosen_on():
    chosen = study(saturating_power, DEFAULT_FORM)
    other = study(saturating_power, "logit_linear")
    assert chosen["error"] < other["error"]


def test_judged_on_another_family_the_interval_covers_and_beats_the_largest_pilot():
    judged = study(tanh_in_log_size)
    assert judged["coverage"] >= 0.85
    assert judged["width"] <= 0.30
    assert judged["error"] < judged["own"]


def test_an_exact_log_linear_series_is_recovered_with_no_backtest_error():
    sizes = [SizeCMR(n, 0.1 + 0.05 * np.log(n / 1e7)) for n in (1e7, 3e7, 1e8, 3e8)]
    result = predict_cmr_at_size(sizes, 1e9)
    assert result.cmr == pytest.approx(0.1 + 0.05 * np.log(100))
    assert result.errors["size_backtest"] == pytest.approx(0, abs=1e-12)


def test_wider_size_intervals_widen_the_target_interval():
    def width(half):
        sizes = [SizeCMR(s.params, s.cmr, (s.cmr - half, s.cmr + half)) for s in FINANCE]
        ci = predict_cmr_at_size(sizes, 3.1e9).ci
        return ci[1] - ci[0]

    assert width(0.0) < width(0.02) < width(0.05)


def test_two_sizes_cannot_bound_an_extrapolation_but_can_interpolate():
    two = FINANCE[:2]
    past = predict_cmr_at_size(two, 3.1e9)
    assert past.ci == (0.0, 1.0) and any("third pilot size" in n for n in past.notes)
    between = predict_cmr_at_size(two, 700e6)
    assert between.errors == {} and FINANCE[0].cmr < between.cmr < FINANCE[1].cmr


@pytest.mark.parametrize(
    "sizes, target",
    [
        ([SizeCMR(460e6, 0.3)], 1e9),
        ([SizeCMR(460e6, 0.3), SizeCMR(460e6, 0.31)], 1e9),
        ([SizeCMR(460e6, 0.3), SizeCMR(940e6, 0.35)], 0),
        ([SizeCMR(-1, 0.3), SizeCMR(940e6, 0.35)], 1e9),
        ([SizeCMR(460e6, 30), SizeCMR(940e6, 0.35)], 1e9),
    ],
)
def test_bad_input_is_a_one_line_error(sizes, target):
    with pytest.raises(CritmixError) as err:
        predict_cmr_at_size(sizes, target)
    assert "\n" not in str(err.value)
