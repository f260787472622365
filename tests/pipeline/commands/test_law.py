import csv
import json
from pathlib import Path

import pytest

from pipeline.cli import main
from stages.plan.cmr.mixture import PREDICTED_RULE, combine_domains
from tests.stages.plan.cmr_shapes import make_curves as make_shape
from tests.stages.plan.cmr_synth import PILOT_TOKENS, make_curves, merge

REAL_CURVES = Path(__file__).parents[2] / "data" / "cmr-small-scale-curves.csv"


def write_curves(path, curves):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(curves)
        writer.writerows(zip(*curves.values()))
    return path


def test_fit_json_has_every_domain_both_views_and_a_mixture(tmp_path, capsys):
    curves = merge(
        make_curves(seed=1, domain="finance"), make_curves(lam=200.0, seed=2, domain="papers")
    )
    path = write_curves(tmp_path / "curves.csv", curves)
    assert (
        main(
            [
                "law",
                "fit",
                "--curves",
                str(path),
                "--budget",
                str(0.6 * PILOT_TOKENS),
                "--bootstrap",
                "16",
                "--json",
                "--plots",
                str(tmp_path / "plots"),
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out["domains"]) == {"finance", "papers"}
    for result in out["domains"].values():
        assert {
            "cmr",
            "ci",
            "cmr_epsilon",
            "cmr_turnaround",
            "used",
            "reason",
            "binding",
            "cmr_law",
            "reliability",
            "warnings",
            "ratios",
        } <= set(result)
        assert len(result["ratios"]) == 6 and all(
            "t0" in p and "feasible_turnaround" in p for p in result["ratios"]
        )
    shares = out["mixture"]
    assert abs(shares["general"] + sum(shares["domains"].values()) - 1) < 1e-9
    # the plan's default rule: the joint prediction's upper end spends ε (0.05) and no more
    assert shares["rule"] == PREDICTED_RULE
    assert shares["prediction"]["high"] == pytest.approx(0.05, abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "finance_cmr.png",
        "papers_cmr.png",
    ]


def test_fit_table_on_real_curves_flags_the_turnaround_law_and_sweeps_lambda_and_epsilon(capsys):
    assert (
        main(
            [
                "law",
                "fit",
                "--curves",
                str(REAL_CURVES),
                "--bootstrap",
                "8",
                "--lambda-sweep",
                "--epsilon-sweep",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "uses epsilon" in out and "turnaround law unreliable" in out
    assert "λ sweep" in out and "inf" in out and "7000" in out
    assert "ε sweep" in out and "0.075" in out and "law-free 0.548" in out


def test_fit_reads_the_seed_column_and_uses_every_seed(tmp_path, capsys):
    path = write_curves(tmp_path / "curves.csv", make_shape("recovery", seeds=3, points=10))
    assert main(["law", "fit", "--curves", str(path), "--bootstrap", "8", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["domains"]["synth"]
    assert result["seeds"] == 3 and result["epsilon_views"]["law_free"] is not None


def test_validate_prints_each_cut_with_its_error_and_coverage(capsys):
    assert main(["law", "validate", "--curves", str(REAL_CURVES), "--bootstrap", "16"]) == 0
    out = capsys.readouterr().out
    assert "backtest of the ε view" in out and "law-free 0.548" in out
    assert "covers free" in out and "leave one ratio out" in out
    assert (
        main(["law", "validate", "--curves", str(REAL_CURVES), "--bootstrap", "8", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)[0]
    assert [cut["share"] for cut in report["cuts"]] == [0.5, 0.25]


def test_compare_fits_what_the_planner_fits_and_reports_loss_units_beside_epsilon(capsys):
    assert main(["law", "compare", "--curves", str(REAL_CURVES), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted({row["held_out_ratio"] for row in rows}) == pytest.approx(
        [0.125, 0.25, 1 / 3, 0.5, 0.75]
    )  # no R = 1
    assert all(row["power_law_error"] == row["power_law"] - row["actual"] for row in rows)
    assert main(["law", "compare", "--curves", str(REAL_CURVES), "--epsilon", "0.05"]) == 0
    out = capsys.readouterr().out
    assert (
        "power law" in out and "exp law" in out and "(ε 0.05)" in out and out.count("legal") == 10
    )


def test_missing_curves_file_tells_what_to_do(tmp_path, capsys):
    assert main(["law", "fit", "--curves", str(tmp_path / "nope.csv")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_csv_without_base_rows_is_a_clear_error(tmp_path, capsys):
    curves = make_curves()
    keep = curves["tokens"] > 0
    path = write_curves(tmp_path / "curves.csv", {k: v[keep] for k, v in curves.items()})
    assert main(["law", "fit", "--curves", str(path)]) == 1
    assert "tokens = 0" in capsys.readouterr().err


def test_fit_measures_against_the_control_pilot_when_there_is_one(tmp_path, capsys):
    curves = make_shape("recovery", seeds=1, points=10)
    control = {k: v[(curves["ratio"] == curves["ratio"][0])].copy() for k, v in curves.items()}
    control["ratio"][:] = 0.0
    path = write_curves(
        tmp_path / "curves.csv", {k: list(curves[k]) + list(control[k]) for k in curves}
    )
    assert main(["law", "fit", "--curves", str(path), "--bootstrap", "8"]) == 0
    assert "against the control" in capsys.readouterr().out
    assert (
        main(["law", "fit", "--curves", str(path), "--bootstrap", "8", "--reference", "base"]) == 0
    )
    assert "against the base" in capsys.readouterr().out


def test_sizes_carries_per_size_cmrs_to_the_target(capsys):
    sizes = ["460M:0.298:0.28:0.31", "940M:0.349:0.33:0.37", "1.6B:0.414:0.39:0.44"]
    assert main(["law", "sizes", "--cmr", *sizes, "--target-params", "3.1e9", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert abs(result["cmr"] - 0.478) <= 0.03 and result["ci"][0] <= 0.478 <= result["ci"][1]
    assert result["law"]["form"] == "log_linear" and [s["params"] for s in result["sizes"]] == [
        460e6,
        940e6,
        1.6e9,
    ]
    assert main(["law", "sizes", "--cmr", *sizes, "--target-params", "3.1B"]) == 0
    assert "CMR at 3.1e+09 parameters: " in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--cmr", "460M:0.298", "--target-params", "3.1B"], "two or more distinct model sizes"),
        (
            ["--cmr", "460M:0.298", "940M:0.349", "--target-params", "-3"],
            "positive parameter counts",
        ),
        (
            ["--cmr", "0:0.298", "940M:0.349", "--target-params", "3.1B"],
            "positive parameter counts",
        ),
        (["--cmr", "460M", "940M:0.349", "--target-params", "3.1B"], "N:CMR or N:CMR:LO:HI"),
        (["--cmr", "460M:x", "940M:0.349", "--target-params", "3.1B"], "must be numbers"),
        (
            ["--cmr", "460M:0.3:0.31:0.4", "940M:0.349", "--target-params", "3.1B"],
            "must hold the CMR",
        ),
        (["--cmr", "big:0.3", "940M:0.349", "--target-params", "3.1B"], "not a parameter count"),
    ],
)
def test_sizes_bad_input_is_a_one_line_error(argv, says, capsys):
    assert main(["law", "sizes", *argv]) == 1
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_fit_answers_at_the_target_size_with_each_size_beside_it(tmp_path, capsys):
    from tests.stages.plan.cmr_synth import sized_curves

    path = write_curves(tmp_path / "sized.csv", sized_curves())
    assert (
        main(
            [
                "law",
                "fit",
                "--curves",
                str(path),
                "--bootstrap",
                "8",
                "--target-params",
                "16M",
                "--json",
            ]
        )
        == 0
    )
    finance = json.loads(capsys.readouterr().out)["domains"]["finance"]
    law = finance["size_law"]
    assert finance["cmr"] == law["cmr"] and finance["ci"] == law["ci"] and len(law["sizes"]) == 3
    assert main(["law", "fit", "--curves", str(path), "--bootstrap", "8"]) == 0
    assert "the curves hold 3 pilot sizes" in " ".join(capsys.readouterr().out.split())


def test_fit_prints_the_mixture_a_plan_with_the_same_rule_would_choose(tmp_path, capsys):
    curves = merge(
        make_curves(seed=3, domain="legal"), make_curves(lam=300.0, seed=4, domain="code")
    )
    path = write_curves(tmp_path / "curves.csv", curves)
    args = ["law", "fit", "--curves", str(path), "--bootstrap", "8", "--json"]
    assert main([*args, "--mixture", "smallest_cmr"]) == 0
    out = json.loads(capsys.readouterr().out)
    cmrs = {d: r["cmr"] for d, r in out["domains"].items()}
    assert out["mixture"]["domains"] == combine_domains(cmrs).domains
    assert main([*args, "--risk", "point"]) == 0
    point = json.loads(capsys.readouterr().out)["mixture"]
    assert point["prediction"]["change"] == pytest.approx(0.05, abs=1e-6)
