"""critmix plan with the pilots trained elsewhere: export -> run_pilots.sh on another "host" -> import -> plan."""

import csv
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from pipeline.cli import main

# Three ratios of 12 steps each with 7 distinct eval steps: the least the CMR fit accepts.
SMALL = [
    "--set",
    "plan.base_tokens=8000",
    "--set",
    "plan.pilots.tokens=12288",
    "--set",
    "plan.pilots.ratios=[0.25,0.5,1.0]",
    "--set",
    "plan.pilots.eval_points=8",
    "--set",
    "plan.pilots.first_eval_tokens=1024",
]


@pytest.mark.slow
def test_pilots_run_from_an_export_and_the_plan_imports_them(tmp_path, in_repo):
    run, export, host = tmp_path / "run", tmp_path / "export", tmp_path / "host"
    assert main(["curate", "--config", "configs/tiny.yaml", "--run", str(run)]) == 0
    assert (
        main(
            [
                "plan",
                "--config",
                "configs/tiny.yaml",
                "--run",
                str(run),
                *SMALL,
                "--export-pilots",
                str(export),
            ]
        )
        == 0
    )

    shutil.copytree(export, host)  # the export must work anywhere, with nothing from this checkout
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": ""}
    done = subprocess.run(
        [str(host / "run_pilots.sh"), "2", "--set", "threads=1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "base and pilots done" in done.stdout, done.stderr
    for weights in host.glob(
        "plan/**/*.safetensors"
    ):  # what comes back need not carry model weights
        weights.unlink()

    assert (
        main(
            [
                "plan",
                "--config",
                "configs/tiny.yaml",
                "--run",
                str(run),
                *SMALL,
                "--import-pilots",
                str(host),
            ]
        )
        == 0
    )
    assert not list((run / "plan").glob("**/*.safetensors"))  # nothing was trained again here
    rows = list(csv.DictReader((run / "plan/curves.csv").open()))
    assert sorted({float(r["ratio"]) for r in rows}) == [
        0.0,
        0.25,
        0.5,
        1.0,
    ]  # with the R = 0 control
    assert sorted({int(r["seed"]) for r in rows}) == [0, 1]
    assert (run / "plan/curriculum.yaml").exists()
    # The check pilot needs the fit, so it would train here, from a base that came back without weights.
    warnings = yaml.safe_load((run / "plan/curriculum.yaml").read_text())["warnings"]
    assert any("joint check pilot did not run" in w for w in warnings)


def test_import_refuses_pilots_planned_with_another_config(tmp_path, in_repo):
    from core.config import to_mapping
    from pipeline.config import load_config
    from pipeline.planning.curricula import PlanError
    from pipeline.planning.remote_pilots import import_pilots
    from pipeline.planning.trainer_runs import write_yaml
    from pipeline.rundir import RunDir

    exported = to_mapping(load_config("configs/tiny.yaml", ["plan.pilots.tokens=999"]))
    write_yaml(tmp_path / "export/config.yaml", exported)
    (tmp_path / "export/run_pilots.sh").write_text("")
    with pytest.raises(PlanError, match="exported with another plan: section"):
        import_pilots(
            load_config("configs/tiny.yaml"), RunDir(tmp_path / "run"), tmp_path / "export"
        )
