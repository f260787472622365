"""critmix plan with plan.pilots.adaptive on the tiny config: rounds of real pilots, recorded."""

import csv
import json

import pytest
import yaml

from pipeline.cli import main

ADAPTIVE = [
    f"--set={override}"
    for override in (
        "plan.base_tokens=8000",
        "plan.pilots.tokens=12288",
        "plan.pilots.eval_points=8",
        "plan.pilots.first_eval_tokens=1024",
        "plan.pilots.joint=false",
        "plan.pilots.fuse=auto",
        "plan.pilots.adaptive=true",
        "plan.pilots.first_ratios=[0.25,0.5,1.0]",
        "plan.pilots.round_ratios=1",
        "plan.pilots.max_pilots=8",
    )
]


@pytest.mark.slow
def test_an_adaptive_plan_trains_rounds_and_fits_the_ratios_they_chose(tmp_path, in_repo):
    run = tmp_path / "run"
    assert main(["curate", "--config", "configs/tiny.yaml", "--run", str(run)]) == 0
    assert main(["plan", "--config", "configs/tiny.yaml", "--run", str(run), *ADAPTIVE]) == 0
    record = json.loads((run / "plan/adaptive.json").read_text())["legal"]
    assert record["rounds"][0]["ratios"] == [0.25, 0.5, 1.0]
    assert record["rounds"][-1]["pilots"] <= 8
    with open(run / "plan/curves.csv") as handle:
        ratios = {float(row["ratio"]) for row in csv.DictReader(handle)}
    assert ratios == {0.0} | set(record["ratios"]) - set(record["stopped"])
    fit = yaml.safe_load((run / "plan/fit.yaml").read_text())["legal"]
    last = record["rounds"][-1]  # the plan's interval is the rounds' (widened), not a fixed refit's
    assert fit["cmr"] == pytest.approx(last["cmr"]) and fit["ci"] == pytest.approx(last["ci"])
    assert any("last adaptive round" in warning for warning in fit["warnings"])


def test_the_plan_takes_each_domains_interval_from_its_last_adaptive_round(tmp_path):
    from dataclasses import dataclass, field

    from pipeline.planning.adaptive_runs import adaptive_fits
    from pipeline.rundir import RunDir

    @dataclass
    class Fit:  # the fields of stages.plan.cmr.fit.CMRResult that the rounds replace
        cmr: float
        ci: tuple
        warnings: list = field(default_factory=list)

    fits = {"legal": Fit(0.5, (0.45, 0.55)), "code": Fit(0.3, (0.2, 0.4))}
    run = RunDir(tmp_path)
    assert adaptive_fits(run, fits) is fits  # no rounds recorded: fixed ratios
    (tmp_path / "plan").mkdir()
    rounds = [{"cmr": 0.6, "ci": [0.3, 0.9]}, {"cmr": 0.52, "ci": [0.4, 0.62]}]
    record = {"legal": {"ratios": [0.25, 0.5, 1.0], "stopped": [1.0], "rounds": rounds}}
    (tmp_path / "plan/adaptive.json").write_text(json.dumps(record))
    adapted = adaptive_fits(run, fits)
    assert (adapted["legal"].cmr, adapted["legal"].ci) == (0.52, (0.4, 0.62))
    assert "stopped early [1.0]" in adapted["legal"].warnings[0]
    assert adapted["code"] is fits["code"]  # a domain without rounds keeps its fit
