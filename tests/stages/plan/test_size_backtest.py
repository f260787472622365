"""The size backtest (stages/plan/backtests/sizes.py): the largest pilot size left out, predicted from
the others, against its own fit; with ``critmix law validate`` reporting it."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from pipeline.cli import main
from stages.plan.backtests.backtest import validate
from stages.plan.backtests.sizes import backtest_report, size_backtest
from stages.plan.cmr.fit import fit_domain
from stages.plan.cmr.sizes import at_size
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_synth import FORGETTING, make_curves, sized_curves

SETTINGS = FitSettings(draws=8)
FIVE_SIZES = {0.5e6: 2.0, 1e6: 1.6, 2e6: 1.3, 4e6: 1.1, 8e6: 1.0}


def test_the_largest_size_is_predicted_from_the_others_and_compared_with_its_own_fit():
    curves = sized_curves(FIVE_SIZES)
    report = size_backtest(curves, "finance", SETTINGS)
    own = fit_domain(at_size(curves, 8e6), "finance", SETTINGS).cmr
    assert report["held_out_params"] == 8e6 and report["measured"] == own
    assert [s["params"] for s in report["sizes"]] == sorted(FIVE_SIZES)
    assert report["error"] == report["predicted"] - own
    # four sizes forgetting less as they grow: the prediction continues the trend past the third
    assert report["predicted"] > report["sizes"][-2]["cmr"]
    assert report["covered"] == (report["ci"][0] <= own <= report["ci"][1])


def test_three_sizes_leave_two_whose_interval_says_nothing_bounds_it():
    report = size_backtest(sized_curves(), "finance", SETTINGS)
    assert report["ci"] == [0.0, 1.0] and any("third pilot size" in n for n in report["notes"])


def test_one_size_has_no_size_backtest():
    assert size_backtest(make_curves(), "finance", SETTINGS) is None


@pytest.mark.slow
def test_one_sizes_backtest_report_is_the_within_size_backtest_alone():
    curves = make_curves()
    assert backtest_report(curves, "finance", SETTINGS) == validate(curves, "finance", SETTINGS)


@pytest.mark.slow
def test_law_validate_reports_the_size_backtest(tmp_path, capsys):
    curves = sized_curves(FORGETTING)
    path = tmp_path / "curves.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(curves)
        writer.writerows(zip(*(np.asarray(v).tolist() for v in curves.values())))
    assert main(["law", "validate", "--curves", str(path), "--bootstrap", "8", "--json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["size_backtest"]["held_out_params"] == 4e6
    assert main(["law", "validate", "--curves", str(path), "--bootstrap", "8"]) == 0
    assert "size backtest: the smaller sizes predict" in capsys.readouterr().out
