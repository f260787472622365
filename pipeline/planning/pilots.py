"""Pilot runs: the base model, then continual pre-training runs from it, each evaluated at log-spaced
token points; their validation losses become ``plan/curves.csv``. A pilot is a (domain, ratio R,
seed): ``plan.pilots.seeds`` runs per domain and ratio, each with its own data order, and with
``plan.pilots.control`` one R = 0 control per seed (general data only, the same tokens), shared by
every domain: its rows appear under each domain at ratio 0.

Pilots are single-thread trainer processes, run ``plan.pilots.parallel`` at a time, each training
``plan.pilots.fuse`` pilots one after another (``python -m trainer train-many``) so that start-up is
paid once per process, not once per pilot; a finished pilot is skipped, a killed one resumes.
"""

from __future__ import annotations

import csv
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from core.files import atomic_write_text
from pipeline.config import CritmixConfig
from pipeline.planning.curricula import PlanError, base_curriculum, pilot_curriculum
from pipeline.planning.trainer_runs import run_trainer, train_args
from pipeline.progress import TrainingLines, console, unit_progress
from pipeline.rundir import RunDir
from stages.plan.data.curves import COLUMNS, OPTIONAL_COLUMNS
from trainer.curriculum import write_curriculum


def log_spaced_points(budget: int, count: int, first: int) -> list[int]:
    """Evaluation points: 0, then ``count`` points from ``first`` to ``budget`` spaced evenly in log."""
    points = np.unique(np.geomspace(max(1, first), budget, count).astype(int))
    return [0, *points.tolist()]


def ensure_base(config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path) -> Path:
    """The base model's directory: ``plan.base_model``, or trained here on the general domain."""
    if config.plan.base_model:
        base = Path(config.plan.base_model)
        if not (base / "config.json").exists():
            raise PlanError(
                f"plan.base_model={base} is not a Hugging Face model directory (no config.json)"
            )
        return base
    out = run / "plan/base"
    if not (out / "final/config.json").exists():
        spec = run / "plan/base.curriculum.yaml"
        curriculum = base_curriculum(config)
        write_curriculum(curriculum, spec)
        console.print(f"base model: {config.plan.base_tokens:,} general tokens")
        run_trainer(
            train_args(config_path, spec, tokens, out),
            run / "plan/logs/base.log",
            progress=TrainingLines(
                "base model", out / "metrics.jsonl", sum(p.tokens for p in curriculum.phases)
            ),
        )
    return out / "final"


def pilot_name(domain: str, ratio: float, seed: int = 0) -> str:
    """Per mille: no dots in file names. Seed 0 keeps the name pilots had before there were seeds."""
    return f"{domain}-r{round(ratio * 1000):04d}" + (f"-s{seed}" if seed else "")


def pilot_dir(run: RunDir, domain: str, ratio: float, seed: int = 0) -> Path:
    return run / f"plan/pilots/{pilot_name(domain, ratio, seed)}"


def pilot_overrides(config: CritmixConfig, seed: int) -> list[str]:
    """Trainer overrides of one pilot: its evaluation points, and its seed (data order)."""
    pilots = config.plan.pilots
    points = log_spaced_points(
        pilots.tokens, pilots.eval_points, pilots.first_eval_tokens or pilots.tokens // 100
    )
    stop = (
        ["--set", f"eval.stop_rise={pilots.stop_above * config.plan.epsilon}"]
        if pilots.adaptive and pilots.stop_above
        else []
    )
    return [
        "--set",
        f"eval.at_tokens={json.dumps(points)}",
        "--set",
        f"seed={config.train.seed + seed}",
        *stop,
    ]


def pilot_jobs(config: CritmixConfig) -> list[tuple[str, float, int]]:
    """(domain, ratio, seed) of every pilot; the controls train the general domain at R = 0."""
    pilots = config.plan.pilots
    controls = (
        [(config.plan.general_domain, 0.0, seed) for seed in range(pilots.seeds)]
        if pilots.control
        else []
    )
    return controls + [
        (domain, ratio, seed)
        for domain in config.plan_domains()
        for ratio in pilots.ratios
        for seed in range(pilots.seeds)
    ]


def finished(out: Path) -> bool:
    return (out / "final/config.json").exists()


def write_pilot_curriculum(config: CritmixConfig, base: Path, job: tuple, out: Path) -> Path:
    """The curriculum of pilot ``job`` (domain, ratio, seed), written beside its output folder."""
    spec = out.with_suffix(".curriculum.yaml")
    write_curriculum(pilot_curriculum(config, job[0], job[1], base), spec)
    return spec


def run_pilot(
    config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path, base: Path, job: tuple
) -> Path:
    out = pilot_dir(run, *job)
    if finished(out):
        return out
    spec = write_pilot_curriculum(config, base, job, out)
    run_trainer(
        train_args(config_path, spec, tokens, out, *pilot_overrides(config, job[2])),
        out.with_suffix(".log"),
        threads=1,
    )
    return out


def run_fused_pilots(
    config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path, base: Path, jobs: list
) -> list[Path]:
    """Several pilots in one trainer process, one after another; each writes what it would alone."""
    outs = [pilot_dir(run, *job) for job in jobs]
    if all(finished(out) for out in outs):  # a rerun pays no trainer start-up for a finished group
        return outs
    entries = [
        {
            "curriculum": str(write_pilot_curriculum(config, base, job, out)),
            "out": str(out),
            "set": pilot_overrides(config, job[2])[1::2],  # the values of its --set pairs
        }
        for job, out in zip(jobs, outs, strict=True)
    ]
    runs = outs[0].with_suffix(".fused.json")
    atomic_write_text(runs, json.dumps(entries, indent=1))
    args = [
        "train-many",
        "--runs",
        str(runs),
        "--tokens",
        str(tokens),
        "--config",
        str(config_path),
    ]
    labels = [pilot_name(*job) for job in jobs]
    progress = GroupLines(dict(zip(labels, outs)), config.plan.pilots.tokens)
    run_trainer(args, outs[0].with_suffix(".fused.log"), threads=1, progress=progress)
    return outs


class GroupLines:
    """A fused group's progress: a ``TrainingLines`` per pilot, started when its metrics first appear
    (when it starts training, so each ETA counts its own time alone)."""

    def __init__(self, outs: dict[str, Path], pilot_tokens: int, every: float = 30.0):
        self.waiting, self.pilot_tokens, self.every = dict(outs), pilot_tokens, every
        self.lines: list[TrainingLines] = []

    def tick(self) -> None:
        for label, out in list(self.waiting.items()):
            if (out / "metrics.jsonl").exists():
                metrics = out / "metrics.jsonl"
                self.lines.append(TrainingLines(label, metrics, self.pilot_tokens, self.every))
                del self.waiting[label]
        for line in self.lines:
            line.tick()


def fused_groups(config: CritmixConfig, jobs: list) -> list[list]:
    """The pilots of each trainer process: ``plan.pilots.fuse`` at a time, in job order."""
    pilots = config.plan.pilots
    size = -(-len(jobs) // pilots.parallel) if pilots.fuse == "auto" else pilots.fuse
    return [jobs[i : i + size] for i in range(0, len(jobs), max(1, size))]


def run_group(
    config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path, base: Path, group
):
    """One pilot in a trainer process of its own (today's path, ``fuse: 1``), or a fused group in one."""
    if len(group) == 1:
        return [run_pilot(config, run, config_path, tokens, base, group[0])]
    return run_fused_pilots(config, run, config_path, tokens, base, group)


def run_pilots(
    config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path, base: Path
) -> None:
    """Every pilot at the fixed ratios; adaptive ones: pipeline/planning/adaptive_runs.py."""
    run_jobs(config, run, config_path, tokens, base, pilot_jobs(config))


def run_jobs(
    config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path, base: Path, jobs: list
) -> None:
    """Train ``jobs`` (domain, ratio, seed): ``plan.pilots.parallel`` trainer processes at a time."""
    started = time.time()
    parallel = config.plan.pilots.parallel
    with (
        ThreadPoolExecutor(max_workers=parallel) as pool,
        unit_progress(f"pilots ({parallel} at a time)", len(jobs), "pilot") as update,
    ):
        running = {
            pool.submit(run_group, config, run, config_path, tokens, base, group): group
            for group in fused_groups(config, jobs)
        }
        done = 0
        for finished in as_completed(running):
            for job, out in zip(running[finished], finished.result()):
                done += 1
                update(done, pilot_summary(job, out, config.plan.general_domain))
    console.print(f"pilots: {len(jobs)} done in {time.time() - started:.0f}s")


def pilot_summary(job: tuple[str, float, int], out: Path, general_domain: str) -> str:
    """``legal r=0.125 seed 1: loss 3.412, general 3.101``: a finished pilot and its last validation losses."""
    domain, ratio, seed = job
    evals = evaluations(out / "metrics.jsonl")
    val = evals[-1]["val"] if evals else {}
    losses = f"loss {val[domain]:.3f}" if domain in val else "no evaluation"
    if domain != general_domain and general_domain in val:
        losses += f", general {val[general_domain]:.3f}"
    return f"{domain} r={ratio:.3g} seed {seed}: {losses}"


def pilot_curve(
    metrics_path: Path, domains: list[str], ratio: float, seed: int, general_domain: str
) -> list[dict]:
    """One pilot's evaluations as curve rows, one row per evaluation and planned domain in ``domains``."""
    return [
        {
            "domain": domain,
            "ratio": ratio,
            "tokens": record["tokens"],
            "general_loss": record["val"][general_domain],
            "domain_loss": record["val"][domain],
            "seed": seed,
        }
        for record in evaluations(metrics_path)
        for domain in domains
    ]


def evaluations(metrics_path: Path) -> list[dict]:
    """A trainer run's evaluation records (those with ``val``, its loss per domain), in order."""
    records = (json.loads(line) for line in metrics_path.read_text().splitlines())
    return [record for record in records if record.get("val")]


def trained_jobs(config: CritmixConfig, run: RunDir) -> list[tuple[str, float, int]]:
    """The pilots whose full curves the fit reads: every job, or with ``plan.pilots.adaptive`` the
    controls and the ratios the rounds chose, less those stopped early (plan/adaptive.json)."""
    if not config.plan.pilots.adaptive:
        return pilot_jobs(config)
    seeds = range(config.plan.pilots.seeds)
    record = json.loads(adaptive_record(run).read_text())
    controls = [job for job in pilot_jobs(config) if job[1] == 0]
    return controls + [
        (domain, ratio, seed)
        for domain, rounds in record.items()
        for ratio in rounds["ratios"]
        if ratio not in rounds["stopped"]
        for seed in seeds
    ]


def adaptive_record(run: RunDir) -> Path:
    """The adaptive rounds per domain (pipeline/planning/adaptive_runs.py)."""
    return run / "plan/adaptive.json"


def collect_curves(config: CritmixConfig, run: RunDir) -> Path:
    """``plan/curves.csv`` from the pilots' metrics, in the format ``critmix law fit`` reads; a control's
    rows appear under every planned domain (at ratio 0, with that domain's loss)."""
    rows = []
    for domain, ratio, seed in trained_jobs(config, run):
        metrics = pilot_dir(run, domain, ratio, seed) / "metrics.jsonl"
        domains = config.plan_domains() if ratio == 0 else [domain]
        rows += pilot_curve(metrics, domains, ratio, seed, config.plan.general_domain)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=[*COLUMNS, *OPTIONAL_COLUMNS])
    writer.writeheader()
    writer.writerows(rows)
    path = run / "plan/curves.csv"
    atomic_write_text(path, text.getvalue())  # `critmix law fit` may read it at any time
    return path
