"""Reliability of `critmix plan` and `critmix train`: a run directory in use is refused, config names cannot
write outside the run directory, a fit with no usable pilot does not crash the plan, and the same inputs
and seed plan the same curriculum with the same losses."""

import json
import shutil
import signal
import subprocess
import sys

import pytest

from core.errors import ConfigError
from pipeline.cli import main
from pipeline.commands.plan import plot_fits
from pipeline.config import load_config
from pipeline.rundir import RunDir
from stages.plan.cmr.fit import fit_cmr
from stages.plan.data.curves import read_curves
from tests.conftest import REPO

TINY = "configs/tiny.yaml"


def critmix(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_run_directory_in_use_is_refused_by_plan_and_train(tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pipeline.rundir import RunDir\n"
            f"with RunDir({str(run)!r}):\n    print('locked', flush=True); time.sleep(120)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        for command in ("plan", "train"):
            refused = critmix(command, "--config", TINY, "--run", str(run))
            assert refused.returncode == 1
            assert (
                f"{run} is in use by process {holder.pid}; wait for it to finish" in refused.stderr
            )
        assert [p.name for p in run.iterdir()] == [".lock"]  # refused before writing anything
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The holder died without unlocking: its stale lock is cleared and train gets as far as its inputs.
    stale = critmix("train", "--config", TINY, "--run", str(run))
    assert stale.returncode == 1 and "no curriculum at" in stale.stderr


@pytest.mark.parametrize(
    "override",
    [
        "sources=[{name: a, domain: ../../outside, paths: [x.jsonl]}]",
        "plan.general_domain=/tmp/x",
        "plan.domains=[..]",
        "plan.ratios={a/../../b: 0.1}",
    ],
)
def test_domain_names_that_would_leave_the_run_directory_are_config_errors(override, in_repo):
    with pytest.raises(ConfigError, match="must be plain names"):
        load_config(TINY, [override])


def test_a_fit_without_usable_pilots_is_reported_not_plotted(tmp_path):
    (tmp_path / "plan").mkdir()
    curves = tmp_path / "plan/curves.csv"
    curves.write_text(
        "domain,ratio,tokens,general_loss,domain_loss\n"
        + "".join(f"legal,{r},{t},4.4,7.0\n" for r in (0.25, 0.5, 1.0) for t in (0, 1024, 8192))
    )
    fits = fit_cmr(read_curves(curves))
    assert fits["legal"].cmr is None and not fits["legal"].ratios
    plot_fits(fits, read_curves(curves), RunDir(tmp_path))
    assert not (tmp_path / "plan/plots/legal.png").exists()


# Budgets small enough for two plans in about a minute, with enough evaluations (>= 6) per pilot to fit.
SMALL_PLAN = [
    "plan.base_tokens=4096",
    "plan.pilots.tokens=4096",
    "plan.pilots.ratios=[0.25,0.5,1.0]",
    "plan.pilots.seeds=1",
    "plan.pilots.eval_points=8",
    "plan.pilots.first_eval_tokens=256",
    "plan.pilots.parallel=3",
    "train.model.seq_len=32",
    "train.optim.micro_batch=4",
    "train.eval.val_sequences=2",
]


def losses(run) -> dict[str, list]:
    """Every logged loss of the base model and the pilots, by output folder."""
    found = {}
    for metrics in sorted((run / "plan").glob("**/metrics.jsonl")):
        lines = [json.loads(line) for line in metrics.read_text().splitlines()]
        found[str(metrics.parent.relative_to(run))] = [
            (r["step"], r.get("train_loss"), r.get("val")) for r in lines
        ]
    return found


@pytest.mark.slow
def test_the_same_inputs_and_seed_plan_the_same_curriculum(tmp_path, in_repo):
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["curate", "--config", TINY, "--run", str(first)]) == 0
    second.mkdir()
    shutil.copytree(first / "shards", second / "shards")
    sets = [arg for item in SMALL_PLAN for arg in ("--set", item)]
    for run in (first, second):
        assert main(["plan", "--config", TINY, "--run", str(run), *sets]) == 0
    assert (first / "plan/curriculum.yaml").read_bytes() == (
        second / "plan/curriculum.yaml"
    ).read_bytes()
    assert (
        "cmr_law" in (first / "plan/curriculum.yaml").read_text()
    )  # a fitted share, not a fallback
    assert (
        losses(first) == losses(second) and len(losses(first)) == 6
    )  # the base, the control, three pilots and the joint mixture's check pilot
