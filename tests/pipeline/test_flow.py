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
def test_pilot_curves_cover_every_ratio_from_the_base_model(flow_run):
    rows = list(csv.DictReader((flow_run / "plan/curves.csv").open()))
    ratios = sorted({float(r["ratio"]) for r in rows})
    assert ratios == pytest.approx([1 / 8, 1 / 4, 1 / 3, 1 / 2, 3 / 4, 1])
    starts = {(r["ratio"], r["general_loss"]) for r in rows if float(r["tokens"]) == 0}
    assert len({loss for _, loss in starts}) == 1  # every pilot starts from the same base model
    assert all(len([r for r in rows if r["ratio"] == ratio]) >= 6 for ratio, _ in starts)


@pytest.mark.slow
def test_curriculum_records_how_each_share_was_chosen(flow_run):
    spec = load(flow_run / "plan/curriculum.yaml")
    assert [p["name"] for p in spec["phases"]] == ["general", "cpt-low", "cpt-mid", "cpt-high", "anneal"]
    for phase in spec["phases"]:
        assert sum(m["share"] for m in phase["mixture"].values()) == pytest.approx(1.0)
    legal = spec["phases"][1]["mixture"]["legal"]
    how = legal["chosen_by"]
    assert how["method"] == "cmr_law"
    assert {"lam", "epsilon", "budget", "ci", "binding", "cmr_epsilon", "cmr_turnaround", "reliability"} <= set(how)
    assert 0 < legal["share"] <= how["cmr"] + 1e-9
    assert set(spec["phases"][-1]["mixture"]["legal"]["buckets"]) <= {k for k in legal["buckets"] if k.startswith("high/")}


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
    for heading in ("Critical mixture ratio per domain", "Curriculum", "Training", "Does the plan hold?"):
        assert heading in page


@pytest.mark.slow
def test_a_hand_set_share_is_recorded_and_checked_against_the_cmr(flow_run, in_repo):
    assert main(["plan", "--config", "configs/tiny.yaml", "--run", str(flow_run), "--set", "plan.ratios.legal=0.99"]) == 0
    spec = load(flow_run / "plan/curriculum.yaml")
    legal = spec["phases"][1]["mixture"]["legal"]
    assert legal["share"] == pytest.approx(0.99) and legal["chosen_by"]["method"] == "manual"
    upper = legal["chosen_by"]["ci"][1]
    assert any("exceeds its CMR upper bound" in w for w in spec["warnings"]) == (0.99 > upper)
