"""``plan.pilots.adaptive`` in a plan run: the adaptive loop (pipeline/planning/adaptive.py) per
planned domain, its ``train`` callable training real pilots through the same runner as fixed ratios
(fused or not), its ``fit`` the plan's own fit of the curves so far (the R = 0 controls included).

The rounds are recorded in ``plan/adaptive.json`` after each one: per domain the ratios trained,
those stopped early, and each round's CMR and interval (widened and censored as the loop reads
it). A rerun trains no finished pilot again, so it replays the same rounds."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.files import atomic_write_text
from pipeline.config import CritmixConfig
from pipeline.planning.adaptive import (
    ADAPTIVE_WIDENING,
    AdaptiveDesign,
    Estimate,
    Trained,
    adaptive_pilots,
)
from pipeline.planning.fit_settings import fit_settings
from pipeline.planning.pilots import adaptive_record, evaluations, pilot_curve, pilot_dir, run_jobs
from pipeline.progress import console
from pipeline.rundir import RunDir


def design_of(config: CritmixConfig) -> AdaptiveDesign:
    pilots = config.plan.pilots
    return AdaptiveDesign(
        first_ratios=tuple(pilots.first_ratios),
        round_ratios=pilots.round_ratios,
        target_width=pilots.target_width,
        max_pilots=pilots.max_pilots,
        seeds=pilots.seeds,
    )


def stopped_early(out: Path) -> bool:
    metrics = out / "metrics.jsonl"
    return metrics.exists() and '"event": "early_stop"' in metrics.read_text()


def columns(rows: list[dict]) -> dict[str, np.ndarray]:
    names = ("domain", "ratio", "tokens", "general_loss", "domain_loss", "seed")
    out = {k: np.array([r[k] for r in rows]) for k in names}
    out["seed"] = out["seed"].astype(int)
    return out


def run_adaptive_pilots(
    config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path, base: Path
) -> None:
    pilots, general = config.plan.pilots, config.plan.general_domain
    controls = [(general, 0.0, s) for s in range(pilots.seeds)] if pilots.control else []
    run_jobs(config, run, config_path, tokens, base, controls)
    record: dict = {}
    for domain in config.plan_domains():
        trainer = PilotTrainer(config, run, config_path, tokens, base, domain)
        control_rows = [
            row
            for job in controls
            for row in pilot_curve(
                pilot_dir(run, *job) / "metrics.jsonl", [domain], 0.0, job[2], general
            )
        ]
        result = adaptive_pilots(
            trainer.train, PlanFit(config, domain, control_rows), design_of(config)
        )
        record[domain] = {
            "ratios": result.ratios,
            "stopped": sorted(result.stopped),
            "rounds": [
                {
                    "ratios": r.ratios,
                    "cmr": r.estimate.cmr,
                    "ci": list(r.estimate.ci),
                    "pilots": r.pilots,
                    "tokens": r.tokens,
                }
                for r in result.rounds
            ],
        }
        atomic_write_text(adaptive_record(run), json.dumps(record, indent=1))
        estimate = result.estimate
        console.print(
            f"adaptive pilots, {domain}: {len(result.rounds)} rounds, ratios {result.ratios}, "
            f"stopped early {sorted(result.stopped)}; interval [{estimate.ci[0]:.3f}, {estimate.ci[1]:.3f}]"
        )


@dataclass
class PilotTrainer:
    """The loop's ``train``: one domain's pilots at the asked ratios, every seed, through ``run_jobs``."""

    config: CritmixConfig
    run: RunDir
    config_path: Path
    tokens: Path
    base: Path
    domain: str

    def train(self, ratios: list[float]) -> Trained:
        seeds, general = self.config.plan.pilots.seeds, self.config.plan.general_domain
        jobs = [(self.domain, r, s) for r in ratios for s in range(seeds)]
        run_jobs(self.config, self.run, self.config_path, self.tokens, self.base, jobs)
        rows, stopped, spent = [], set(), 0.0
        for job in jobs:
            out = pilot_dir(self.run, *job)
            spent += evaluations(out / "metrics.jsonl")[-1]["tokens"]
            if stopped_early(out):
                stopped.add(job[1])
            else:
                rows += pilot_curve(out / "metrics.jsonl", [self.domain], job[1], job[2], general)
        kept = [row for row in rows if row["ratio"] not in stopped]
        return Trained(columns(kept) if kept else columns_empty(), stopped, spent)


@dataclass
class PlanFit:
    """The loop's ``fit``: the plan's fit of one domain's curves so far, with the R = 0 controls."""

    config: CritmixConfig
    domain: str
    control_rows: list[dict]

    def __call__(self, curves) -> Estimate:
        from stages.plan.cmr.fit import fit_domain  # scipy: imported when a fit runs

        with_controls = merge_rows(curves, self.control_rows)
        result = fit_domain(with_controls, self.domain, fit_settings(self.config))
        return Estimate(result.cmr, result.ci or (0.0, 1.0))


def columns_empty() -> dict[str, np.ndarray]:
    return {
        k: np.array([])
        for k in ("domain", "ratio", "tokens", "general_loss", "domain_loss", "seed")
    }


def merge_rows(curves: dict[str, np.ndarray], rows: list[dict]) -> dict[str, np.ndarray]:
    if not rows:
        return curves
    extra = columns(rows)
    return {k: np.concatenate([curves[k], extra[k]]) for k in extra}


def adaptive_fits(run: RunDir, fits: dict) -> dict:
    """Each domain's CMR and interval as its last adaptive round read them (``plan/adaptive.json``):
    widened for ratios chosen from the data and capped by the pilots stopped early, which a refit of
    ``plan/curves.csv`` as a fixed design would not be. Without the record (fixed ratios, or pilots
    at several sizes, whose size law reads each size's own fit): ``fits`` unchanged."""
    path = adaptive_record(run)
    if not path.exists():
        return fits
    record, adapted = json.loads(path.read_text()), dict(fits)
    for domain, rounds in record.items():
        if domain not in fits or not rounds["rounds"]:
            continue
        last = rounds["rounds"][-1]
        note = (
            f"CMR and interval from the last adaptive round (ratios {rounds['ratios']}, stopped early "
            f"{rounds['stopped']}): widened x{ADAPTIVE_WIDENING} for ratios chosen from the data"
        )
        adapted[domain] = replace(
            fits[domain],
            cmr=last["cmr"],
            ci=tuple(last["ci"]),
            warnings=[*fits[domain].warnings, note],
        )
    return adapted
