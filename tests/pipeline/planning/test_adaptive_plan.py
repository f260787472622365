"""critmix plan with plan.pilots.adaptive on the tiny config: rounds of real pilots, recorded."""

import csv
import json

import pytest

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
