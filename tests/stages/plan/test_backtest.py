from pathlib import Path

import pytest

from stages.plan.backtests.backtest import validate
from stages.plan.data.curves import read_curves
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_shapes import make_curves, true_cmr

REAL_CURVES = Path(__file__).parents[2] / "data" / "cmr-small-scale-curves.csv"


def test_reference_curves_cut_at_half_predict_an_interval_holding_the_measured_crossing():
    report = validate(read_curves(REAL_CURVES), "legal", FitSettings(draws=40))
    assert report["law_free"] == pytest.approx(0.548, abs=1e-3)  # smooth in R
    half = next(cut for cut in report["cuts"] if cut["share"] == 0.5)
    assert half["ci"][0] <= 0.548 <= half["ci"][1] and half["covers_law_free"]
    assert (
        abs(half["error_vs_law_free"]) < 0.05
    )  # the paper's per-ratio laws said 0.645 from the same half
    assert half["per_ratio_view"] > 0.6
    rows = {row["ratio"]: row for row in report["leave_one_ratio_out"]}
    assert sorted(rows) == pytest.approx([0.125, 0.25, 1 / 3, 0.5, 0.75, 1.0], abs=1e-6)
    assert rows[0.125]["joint_change"] is None and rows[0.5]["joint_change"] is not None


def test_a_backtest_on_another_shape_reports_each_cut_against_the_truth_it_can_see():
    report = validate(make_curves("logistic", seed=2), "synth", FitSettings(draws=40))
    assert [cut["share"] for cut in report["cuts"]] == [0.5, 0.25]
    for cut in report["cuts"]:
        assert cut["error_vs_law_free"] == pytest.approx(cut["cmr"] - report["law_free"])
        assert isinstance(cut["covers_law_free"], bool)
    assert report["law_free"] == pytest.approx(true_cmr("logistic"), abs=0.05)
