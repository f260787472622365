"""The whole flow on configs/tiny.yaml: curate -> plan (pilots, CMR fit, curriculum) -> train -> report."""

import csv

import pytest
import yaml

from pipeline.cli import main


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    import os

    from tests.conftest import REPO

    run = tmp_path_factory.mktemp("flow") / "tiny"
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        for command in ("curate", "plan", "train", "report"):
            assert main([command, "--config", "configs/tiny.yaml", "--run", str(run)]) == 0, command
    finally:
        os.chdir(cwd)
    return run


def load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.slow
def test_pilot_curves_cover_every_ratio_and_seed_and_the_control_from_the_base_model(flow_run):
    rows = list(csv.DictReader((flow_run / "plan/curves.csv").open()))
    assert sorted({float(r["ratio"]) for r in rows}) == [0.0, 0.25, 0.5, 1.0]  # 0: the control
    assert {(r["ratio"], r["seed"]) for r in rows} == {
        (ratio, seed) for ratio in {r["ratio"] for r in rows} for seed in "01"
    }
    starts = {(r["ratio"], r["general_loss"]) for r in rows if float(r["tokens"]) == 0}
    assert len({loss for _, loss in starts}) == 1  # every pilot starts from the same base model
    assert all(len([r for r in rows if r["ratio"] == ratio]) >= 12 for ratio, _ in starts)
    # Different seeds are different runs: their losses differ after the start.
    late = {(r["ratio"], r["seed"]): r["general_loss"] for r in rows if float(r["tokens"]) > 0}
    assert late[("0.5", "0")] != late[("0.5", "1")]


@pytest.mark.slow
def test_the_fit_carries_its_backtest_and_the_control(flow_run):
    fit = load(flow_run / "plan/fit.yaml")["legal"]
    assert (
        fit["seeds"] == 2
        and fit["epsilon_reference"] == "base"
        and fit["control_general_change"] < 0
    )
    backtest = fit["backtest"]
    assert [cut["share"] for cut in backtest["cuts"]] == [0.5, 0.25]
    assert backtest["law_free"] == pytest.approx(fit["epsilon_views"]["law_free"], abs=0.05)
    assert (
        backtest["leave_one_ratio_out"] == []
    )  # three ratios, the least a CMR needs: none to spare


@pytest.mark.slow
def test_curriculum_records_how_each_share_was_chosen(flow_run):
    spec = load(flow_run / "plan/curriculum.yaml")
    assert [p["name"] for p in spec["phases"]] == [
        "general",
        "cpt-low",
        "cpt-mid",
        "cpt-high",
        "anneal",
    ]
    for phase in spec["phases"]:
        assert sum(m["share"] for m in phase["mixture"].values()) == pytest.approx(1.0)
    legal = spec["phases"][1]["mixture"]["legal"]
    how = legal["chosen_by"]
    assert how["method"] == "cmr_law"
    assert {
        "lam",
        "epsilon",
        "budget",
        "ci",
        "binding",
        "cmr_epsilon",
        "cmr_turnaround",
        "reliability",
    } <= set(how)
    # The joint mixture spends ε at its interval's upper end, and its check pilot measured it.
    assert how["mixture"] == "predicted" and 0 < legal["share"] < 1
    assert how["joint_predicted"]["high"] == pytest.approx(how["epsilon"], abs=1e-6)
    joint = load(flow_run / "plan/fit.yaml")["joint mixture"]
    assert how["joint_measured"] == joint["check"]["measured"] and joint["check"]["tokens"] > 0
    assert joint["shares"]["legal"] == pytest.approx(legal["share"])
    if not joint["check"]["inside"]:  # a miss corrects the shares, and the curriculum says so
        assert how["joint_corrected_by"] == joint["check"]["offset"] != 0
        assert any("joint check pilot measured" in w for w in spec["warnings"])
    assert set(spec["phases"][-1]["mixture"]["legal"]["buckets"]) <= {
        k for k in legal["buckets"] if k.startswith("high/")
    }


@pytest.mark.slow
def test_training_logs_per_domain_losses_and_a_loadable_model(flow_run):
    from transformers import AutoModelForCausalLM

    lines = (flow_run / "train/metrics.jsonl").read_text().splitlines()
    evals = [yaml.safe_load(line) for line in lines if '"val"' in line]
    assert {"general", "legal"} <= set(evals[-1]["val"])
    assert AutoModelForCausalLM.from_pretrained(flow_run / "train/final").num_parameters() > 0


@pytest.mark.slow
def test_report_compares_plan_with_the_run(flow_run):
    page = (flow_run / "report.html").read_text()
    for heading in (
        "Critical mixture ratio per domain",
        "Backtest",
        "Joint mixture",
        "Curriculum",
        "Training",
        "Does the plan hold?",
    ):
        assert heading in page


@pytest.mark.slow
def test_the_report_fits_a_1400_pixel_browser_window(flow_run, tmp_path):
    from tests.browser import lay_out

    layout = lay_out(flow_run / "report.html", 1400, tmp_path / "report.png")
    assert layout.viewport == 1400 and layout.scroll_width <= 1400
    assert (
        layout.overflowing == []
    )  # no table, figure, pre or plot past the window or its container


@pytest.mark.slow
def test_a_hand_set_share_is_recorded_and_checked_against_the_cmr(flow_run, in_repo):
    assert (
        main(
            [
                "plan",
                "--config",
                "configs/tiny.yaml",
                "--run",
                str(flow_run),
                "--set",
                "plan.ratios.legal=0.99",
            ]
        )
        == 0
    )
    spec = load(flow_run / "plan/curriculum.yaml")
    legal = spec["phases"][1]["mixture"]["legal"]
    assert legal["share"] == pytest.approx(0.99) and legal["chosen_by"]["method"] == "manual"
    upper = legal["chosen_by"]["ci"][1]
    assert any("exceeds its CMR upper bound" in w for w in spec["warnings"]) == (0.99 > upper)
