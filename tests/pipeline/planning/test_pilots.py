"""The pilots the planner runs: seeds per ratio, the R = 0 control, and the curves they become."""

import csv
import json
import re
from pathlib import Path

import pytest

from core.errors import ConfigError
from pipeline.config import load_config
from pipeline.planning import pilots
from pipeline.planning.curricula import pilot_curriculum
from pipeline.planning.pilots import (
    collect_curves,
    fused_groups,
    pilot_dir,
    pilot_jobs,
    pilot_overrides,
    run_pilots,
)
from pipeline.rundir import RunDir


def config(*overrides):
    return load_config(
        "configs/tiny.yaml",
        ["plan.domains=[legal,code]", "plan.pilots.ratios=[0.5,1.0]", *overrides],
    )


def test_every_ratio_runs_once_per_seed_and_the_control_once_per_seed(in_repo):
    jobs = pilot_jobs(config("plan.pilots.seeds=3"))
    assert sorted(j for j in jobs if j[1] == 0) == [("general", 0.0, s) for s in range(3)]
    assert len(jobs) == 3 + 2 * 2 * 3
    assert not [j for j in pilot_jobs(config("plan.pilots.control=false")) if j[1] == 0]


def test_a_seed_changes_the_data_order_and_seed_zero_keeps_the_old_name(in_repo, tmp_path):
    cfg = config("train.seed=7")
    assert pilot_overrides(cfg, 2)[-1] == "seed=9"
    run = RunDir(tmp_path)
    assert (
        pilot_dir(run, "legal", 0.5, 0).name == "legal-r0500"
        and pilot_dir(run, "legal", 0.5, 1).name == "legal-r0500-s1"
    )


def test_the_control_trains_on_general_data_and_is_evaluated_on_every_planned_domain(in_repo):
    spec = pilot_curriculum(config(), "general", 0.0, Path("base"))
    mixture = spec.phases[0].mixture
    assert {d: m.share for d, m in mixture.items()} == {"general": 1.0, "legal": 0.0, "code": 0.0}


def test_the_control_appears_under_every_domain_in_the_curves(in_repo, tmp_path):
    cfg = config("plan.pilots.seeds=1")
    run = RunDir(tmp_path)
    for domain, ratio, seed in pilot_jobs(cfg):
        out = pilot_dir(run, domain, ratio, seed)
        out.mkdir(parents=True)
        evals = [
            {"tokens": t, "val": {"general": 3.0 + ratio, "legal": 5.0 - t / 1e4, "code": 6.0}}
            for t in (0, 1000)
        ]
        (out / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
    rows = list(csv.DictReader(collect_curves(cfg, run).open()))
    control = [r for r in rows if float(r["ratio"]) == 0]
    assert sorted({r["domain"] for r in control}) == ["code", "legal"] and len(control) == 4
    assert {r["seed"] for r in rows} == {"0"}
    assert [float(r["domain_loss"]) for r in control if r["domain"] == "legal"] == [5.0, 4.9]


def test_seeds_and_the_epsilon_reference_are_checked(in_repo):
    with pytest.raises(ConfigError, match="plan.pilots.seeds"):
        config("plan.pilots.seeds=0")
    with pytest.raises(ConfigError, match="plan.epsilon_reference"):
        config("plan.epsilon_reference=control", "plan.pilots.control=false")


def test_off_a_terminal_each_finished_pilot_gets_a_line_with_its_losses_and_an_eta(
    in_repo, tmp_path, monkeypatch, capsys
):
    def fake_pilot(config, run, config_path, tokens, base, job):
        domain, ratio, seed = job
        out = pilot_dir(run, domain, ratio, seed)
        out.mkdir(parents=True)
        evals = [
            {"tokens": t, "val": {"general": 3.0 + ratio + t, "legal": 5.0 - t, "code": 6.0 - seed}}
            for t in (0, 1)
        ]
        (out / "metrics.jsonl").write_text(
            "".join(
                json.dumps({"tokens": 0, "train_loss": 9.0}) + "\n" + json.dumps(e) + "\n"
                for e in evals
            )
        )
        return out

    monkeypatch.setattr(pilots, "run_pilot", fake_pilot)
    cfg = config("plan.pilots.seeds=2")
    run_pilots(
        cfg, RunDir(tmp_path), tmp_path / "config.yaml", tmp_path / "tokens", tmp_path / "base"
    )
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pilot ")]
    pattern = re.compile(
        r"pilot (\d+)/10 (\w+) r=([\d.]+) seed (\d): loss (\d\.\d{3})(, general \d\.\d{3})? "
        r"\(\d+s elapsed, ETA \d+s\)"
    )
    matches = [pattern.fullmatch(line) for line in said]
    assert all(matches) and [int(m[1]) for m in matches] == list(range(1, 11)), said
    assert sorted((m[2], float(m[3]), int(m[4])) for m in matches) == sorted(pilot_jobs(cfg))
    legal = next(m for m in matches if m[2] == "legal" and m[3] == "1")
    assert legal[5] == "4.000" and legal[6] == ", general 5.000"  # the last evaluation's losses
    control = next(m for m in matches if m[2] == "general")
    assert control[5] == "4.000" and control[6] is None


def test_fused_pilots_are_split_evenly_over_the_processes_and_each_is_listed_once(in_repo):
    jobs = pilot_jobs(config("plan.pilots.seeds=2"))  # 10 pilots
    assert [len(g) for g in fused_groups(config("plan.pilots.fuse=auto"), jobs)] == [5, 5]
    assert [len(g) for g in fused_groups(config("plan.pilots.fuse=4"), jobs)] == [4, 4, 2]
    assert sum(fused_groups(config("plan.pilots.fuse=3"), jobs), []) == jobs
    with pytest.raises(ConfigError, match="plan.pilots.fuse"):
        config("plan.pilots.fuse=0")


def test_a_fused_process_trains_each_pilot_as_it_would_alone_and_each_gets_its_line(
    in_repo, tmp_path, monkeypatch, capsys
):
    launched = []

    def fake_trainer(args, log_path, threads=None, progress=None):
        listing = json.loads(Path(args[args.index("--runs") + 1]).read_text())
        launched.append(listing)
        for entry in listing:
            out = Path(entry["out"])
            out.mkdir(parents=True)
            evals = [
                {"tokens": t, "val": {"general": 3.0, "legal": 5.0, "code": 6.0}} for t in (0, 1)
            ]
            (out / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))

    monkeypatch.setattr(pilots, "run_trainer", fake_trainer)
    cfg = config("plan.pilots.seeds=2", "plan.pilots.fuse=auto")
    run = RunDir(tmp_path)
    run_pilots(cfg, run, tmp_path / "config.yaml", tmp_path / "tokens", tmp_path / "base")
    entries = {entry["out"]: entry for entry in sum(launched, [])}
    assert len(launched) == 2 and len(entries) == 10
    for job in pilot_jobs(cfg):
        entry = entries[str(pilot_dir(run, *job))]
        assert entry["set"] == pilot_overrides(cfg, job[2])[1::2]
        assert Path(entry["curriculum"]).exists()
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pilot ")]
    assert [line.split()[1] for line in said] == [f"{i}/10" for i in range(1, 11)]
