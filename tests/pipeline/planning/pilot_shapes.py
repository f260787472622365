"""Simulated pilots for the adaptive loop: ``train(ratios)`` callables on shapes that are not the
fitter's law, with AR(1) noise along each curve and a run-to-run scale per seed, cut where the
trainer's own early-stop rule would stop them.

The shapes are ``tests/stages/plan/cmr_families``' (the design families hinge and sqrt_decay; the
held-out logistic forgetting in log t, forgetting that keeps growing, and no turnaround), each with
a shape parameter drawn per draw. The truth is where the noise-free change at the pilot length
reaches ε.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.planning.adaptive import AdaptiveDesign, Estimate, Trained, adaptive_pilots
from stages.plan.cmr.fit import fit_domain
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_families import (
    DESIGN_FAMILIES,
    EPSILON,
    FAMILIES,
    HELD_OUT_FAMILIES,
    PILOT_TOKENS,
    draw_shape,
    true_cmr,
)
from trainer.early_stop import AFTER_SHARE, left_tolerance

__all__ = ["DESIGN_FAMILIES", "HELD_OUT_FAMILIES", "FAMILIES"]

EVALUATIONS = 12
REAL_CURVES = Path(__file__).resolve().parents[2] / "data/cmr-small-scale-curves.csv"
FIXED_RATIOS = (1 / 8, 1 / 4, 1 / 3, 1 / 2, 3 / 4, 1.0)  # plan.pilots.ratios' default
NOISES = (0.003, 0.008)  # of the general loss at R = 0.5, per evaluation: the demo's, and noisier


def stop_index(t: np.ndarray, general: np.ndarray, rise: float) -> int:
    """The evaluation at which the trainer's rule stops this curve; its last one when it never does."""
    for i in range(1, t.size):
        if left_tolerance(list(t[: i + 1]), list(general[: i + 1]), rise, 1.0, AFTER_SHARE):
            return i
    return t.size - 1


def simulated_train(
    family: str,
    shape: float,
    rng: np.random.Generator,
    seeds: int = 2,
    noise: float = 0.003,
    correlation: float = 0.8,
    stop_above: float = 2.0,
):
    """A ``train`` callable: each call draws fresh pilots at the ratios asked for."""
    t = np.concatenate([[0.0], np.geomspace(0.01, 1, EVALUATIONS)])

    def train(ratios: list[float]) -> Trained:
        columns: dict[str, list] = {k: [] for k in ("ratio", "seed", "tokens", "general_loss")}
        stopped, tokens = set(), 0.0
        for ratio in ratios:
            level = noise * (0.5 + ratio)
            for seed in range(seeds):
                ar = np.zeros(t.size)
                for i in range(1, t.size):
                    ar[i] = correlation * ar[i - 1] + np.sqrt(1 - correlation**2) * rng.normal()
                scale = 1 + 0.03 * rng.normal()
                general = 3.1 + scale * FAMILIES[family](ratio, t, shape) + level * ar
                general[0] = 3.1
                end = stop_index(t, general, stop_above * EPSILON)
                tokens += t[end] * PILOT_TOKENS
                if end < t.size - 1:
                    stopped.add(ratio)
                columns["ratio"] += [ratio] * t.size
                columns["seed"] += [seed] * t.size
                columns["tokens"] += list(t * PILOT_TOKENS)
                columns["general_loss"] += list(general)
        curves = {k: np.array(v) for k, v in columns.items()}
        keep = ~np.isin(curves["ratio"], list(stopped))
        curves = {k: v[keep] for k, v in curves.items()}
        size = curves["ratio"].size
        curves["domain"] = np.full(size, "synth")
        curves["domain_loss"] = 4.2 - 0.3 * np.log1p(curves["tokens"] / PILOT_TOKENS / 0.05)
        curves["seed"] = curves["seed"].astype(int)
        return Trained(curves, stopped, tokens)

    return train


def synthetic_fit(draws: int = 20, seed: int = 0, domain: str = "synth", budget=PILOT_TOKENS):
    """A ``fit`` callable: the plan's CMR and interval at ``budget`` (None: the pilot length)."""

    def fit(curves) -> Estimate:
        settings = FitSettings(budget=budget, draws=draws, seed=seed)
        result = fit_domain(curves, domain, settings)
        assert result.ci is not None and result.cmr is not None
        return Estimate(result.cmr, result.ci)

    return fit


@dataclass(frozen=True)
class Outcome:
    """One draw of one design: did the interval cover the truth, its width, the pilot tokens spent
    (in pilot lengths), and the factor by which the interval, scaled about the plan's value, would
    just reach the truth (≤ 1: covered)."""

    covered: bool
    width: float
    tokens: float
    needed: float
    reached: bool = True  # the adaptive loop's target width


def outcome_of(estimate: Estimate, truth: float, tokens: float, reached=True) -> Outcome:
    low, high = estimate.ci
    centre = estimate.cmr if estimate.cmr is not None else (low + high) / 2
    side = centre - low if truth < centre else high - centre
    return Outcome(
        low <= truth <= high, high - low, tokens, abs(truth - centre) / max(side, 1e-12), reached
    )


def draw_truth(family: str, draw: int) -> tuple[float, float]:
    """(shape, true CMR) of one draw; both designs see the same shape, each its own noise."""
    shape = draw_shape(np.random.default_rng([draw, 11]))
    return shape, true_cmr(family, shape)


def fixed_draw(family, draw, noise, ratios=FIXED_RATIOS, boot=20) -> Outcome:
    """Today's design: the ratios fixed in advance, every pilot to its end."""
    shape, truth = draw_truth(family, draw)
    rng = np.random.default_rng([draw, 1, int(noise * 1e4)])
    trained = simulated_train(family, shape, rng, noise=noise, stop_above=0)(list(ratios))
    estimate = synthetic_fit(boot, draw)(trained.curves)
    return outcome_of(estimate, truth, trained.tokens / PILOT_TOKENS)


def adaptive_draw(family, draw, noise, design: AdaptiveDesign, boot=20) -> Outcome:
    shape, truth = draw_truth(family, draw)
    rng = np.random.default_rng([draw, 2, int(noise * 1e4)])
    run = adaptive_pilots(
        simulated_train(family, shape, rng, noise=noise), synthetic_fit(boot, draw), design
    )
    reached = run.estimate.width <= design.target_width
    return outcome_of(run.estimate, truth, run.rounds[-1].tokens / PILOT_TOKENS, reached)


def oracle_train(curves, domain: str):
    """Pilots at any ratio from the real curves: at a ratio the CSV holds, its curve; between two,
    the curve interpolated linearly in R at each evaluation (the ratios share one token grid); cut
    where the trainer's rule would stop it."""
    rows = curves["domain"] == domain
    ratios = np.unique(curves["ratio"][rows])
    tokens = np.unique(curves["tokens"][rows])
    general = np.array([curves["general_loss"][rows & (curves["ratio"] == r)] for r in ratios])
    domain_loss = np.array([curves["domain_loss"][rows & (curves["ratio"] == r)] for r in ratios])

    def at(table, ratio):
        return np.array([np.interp(ratio, ratios, column) for column in table.T])

    def train(wanted: list[float]) -> Trained:
        columns: dict[str, list] = {
            k: [] for k in ("ratio", "tokens", "general_loss", "domain_loss")
        }
        stopped, spent = set(), 0.0
        for ratio in wanted:
            ratio = float(np.clip(ratio, ratios[0], ratios[-1]))
            loss = at(general, ratio)
            end = stop_index(tokens / tokens[-1], loss, 2 * EPSILON)
            spent += tokens[end]
            if end < tokens.size - 1:
                stopped.add(ratio)
                continue
            columns["ratio"] += [ratio] * tokens.size
            columns["tokens"] += list(tokens)
            columns["general_loss"] += list(loss)
            columns["domain_loss"] += list(at(domain_loss, ratio))
        out = {k: np.array(v, float) for k, v in columns.items()}
        out["domain"] = np.full(out["ratio"].size, domain)
        out["seed"] = np.zeros(out["ratio"].size, int)
        return Trained(out, stopped, spent)

    return train
