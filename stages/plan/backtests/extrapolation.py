"""How far the plan's law errs when the budget lies past the pilots, calibrated on the pilots themselves.

Each pilot curve is cut at several of its evaluations, the plan's law is fitted on the cut (its tail
window then sits at the same share of the cut as of the full pilots) and read at the cut times the
plan's own extrapolation factor, and that prediction is compared with the measured loss there. Each
error is standardized by its ratio's scale, the law's residual noise on its fitted tail (ratios
differ in how noisy their general loss is; how far the law was asked to go is the same factor for
every cut). The cuts stop within one more factor before the last possible one, so the law is tested
on the part of the curves the plan extrapolates from, not on the early rise. The pooled standardized
errors, over cuts and ratios, give the half-width at a level as their conformal quantile (with the
finite-sample (n + 1) correction): a stated level holds without assuming how the errors are
distributed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stages.plan.cmr.views import point_fit
from stages.plan.data.curves import MIN_POINTS_PER_RATIO, MIN_RATIOS, Pilots, at_tokens
from stages.plan.laws.joint import TailLaw

CUTS = 8


@dataclass
class Calibration:
    """The pooled standardized errors of the plan's law at one extrapolation factor."""

    factor: float
    cuts: int
    errors: np.ndarray  # |measured − predicted| / scale, over cuts and ratios

    def quantile(self, level: float) -> float:
        """The conformal half-width, in units of the scale: inf when too few errors back the level."""
        rank = int(np.ceil((self.errors.size + 1) * level))
        return float(np.sort(self.errors)[rank - 1]) if rank <= self.errors.size else float("inf")

    def to_dict(self) -> dict:
        return {"factor": self.factor, "cuts": self.cuts, "errors": int(self.errors.size)}


def prediction_scale(pilots: Pilots, law: TailLaw) -> np.ndarray:
    """Per ratio: the law's root-mean-square residual on the tail it was fitted on."""
    scaled = pilots.tokens / law.t_scale
    tail = np.where(scaled >= TailLaw.tail_start(scaled, pilots.weights), pilots.weights, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fitted = law.b[0][:, None, None] * scaled ** law.exponent[0] + law.c[0][:, None, None]
        squares = np.where(tail > 0, tail * (pilots.d_general - fitted) ** 2, 0.0).sum(axis=(1, 2))
    return np.sqrt(squares / np.maximum(tail.sum(axis=(1, 2)), 1))


def cut_points(pilots: Pilots, factor: float) -> np.ndarray:
    """Where the cuts stop: log-spaced up to the last cut whose target lies within the pilots, from
    one factor before it (or the first evaluation that leaves every curve enough points for a fit)."""
    tokens = np.sort(np.where(pilots.weights > 0, pilots.tokens, np.inf)[..., 1:], axis=-1)
    last = pilots.pilot_tokens / factor
    first = max(float(tokens[..., MIN_POINTS_PER_RATIO - 1].max()), last / factor)
    return np.geomspace(first, last, CUTS) if first <= last else np.empty(0)


def calibrate(pilots: Pilots, factor: float) -> Calibration:
    """Standardized errors of the plan's law read ``factor`` times past cuts of the pilots."""
    errors, cuts = [], 0
    for cut in cut_points(pilots, factor):
        short = pilots.cut(cut)
        if short.ratios.size < MIN_RATIOS:
            continue
        law = point_fit(short).joint
        target = cut * factor
        predicted = law.d_general(target)[0]
        measured = at_tokens(pilots, pilots.d_general, target)[np.isin(pilots.ratios, short.ratios)]
        errors.append(np.abs(measured - predicted) / prediction_scale(short, law))
        cuts += 1
    pooled = np.concatenate(errors) if errors else np.empty(0)
    return Calibration(float(factor), cuts, pooled[np.isfinite(pooled)])
