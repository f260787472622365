import csv
import json
from pathlib import Path

from pipeline.cli import main
from tests.stages.plan.cmr_synth import PILOT_TOKENS, make_curves, merge

REAL_CURVES = Path(__file__).parents[1] / "data" / "cmr-small-scale-curves.csv"


def write_curves(path, curves):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(curves)
        writer.writerows(zip(*curves.values()))
    return path


def test_fit_json_has_every_domain_both_views_and_a_mixture(tmp_path, capsys):
    curves = merge(make_curves(seed=1, domain="finance"), make_curves(lam=200.0, seed=2, domain="papers"))
    path = write_curves(tmp_path / "curves.csv", curves)
    assert main(["law", "fit", "--curves", str(path), "--budget", str(0.6 * PILOT_TOKENS), "--bootstrap", "16",
                 "--json", "--plots", str(tmp_path / "plots")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["domains"]) == {"finance", "papers"}
    for result in out["domains"].values():
        assert {"cmr", "ci", "cmr_epsilon", "cmr_turnaround", "used", "reason", "binding", "cmr_law",
                "reliability", "warnings", "ratios"} <= set(result)
        assert len(result["ratios"]) == 6 and all("t0" in p and "feasible_turnaround" in p for p in result["ratios"])
    shares = out["mixture"]
    assert abs(shares["general"] + sum(shares["domains"].values()) - 1) < 1e-9
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["finance_cmr.png", "papers_cmr.png"]


def test_fit_table_on_real_curves_flags_the_turnaround_law_and_sweeps_lambda(capsys):
    assert main(["law", "fit", "--curves", str(REAL_CURVES), "--bootstrap", "8", "--lambda-sweep"]) == 0
    out = capsys.readouterr().out
    assert "uses epsilon" in out and "turnaround law unreliable" in out
    assert "λ sweep" in out and "inf" in out and "7000" in out


def test_compare_prints_both_laws_held_out_errors(capsys):
    assert main(["law", "compare", "--curves", str(REAL_CURVES)]) == 0
    out = capsys.readouterr().out
    assert "power law" in out and "exp law" in out and out.count("legal") == 12


def test_missing_curves_file_tells_what_to_do(tmp_path, capsys):
    assert main(["law", "fit", "--curves", str(tmp_path / "nope.csv")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_csv_without_base_rows_is_a_clear_error(tmp_path, capsys):
    curves = make_curves()
    keep = curves["tokens"] > 0
    path = write_curves(tmp_path / "curves.csv", {k: v[keep] for k, v in curves.items()})
    assert main(["law", "fit", "--curves", str(path)]) == 1
    assert "tokens = 0" in capsys.readouterr().err
