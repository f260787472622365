"""The ε view's interval at the plan's level (README, "How sure is the CMR?").

Within the pilots it starts from the bootstrap spread of the law-free crossing; past them, from the
extrapolation error calibrated on the pilots at the plan's own factor (``backtests.extrapolation``:
pooled, standardized errors of cut pilots, whose conformal quantile already holds the fit's noise, so
the law's bootstrap is reported beside it and not added again). Every other systematic error is one
term of SYSTEMATIC_TERMS: a function of the interval's inputs giving ``{name: half-width}`` (a float,
or a (below, above) pair; empty when it does not apply) at ``inputs.settings.level``, and notes. Terms
at one level are independent sources, so they add in quadrature; a new source of error (say, a
model-size law's backtest) is one more term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stages.plan.backtests import extrapolation
from stages.plan.cmr.views import Views
from stages.plan.data.curves import (
    Pilots,
    at_tokens,
    piecewise_crossing,
    ratio_interpolation_error,
    smooth_crossing,
)
from stages.plan.laws.joint import TailLaw
from stages.plan.settings import FitSettings


@dataclass
class IntervalInputs:
    """What every interval term may read: the pilots, the point and bootstrap views, the point fit's
    joint law, the draws, the law-free crossing (None past the pilots) and the settings (budget
    resolved)."""

    pilots: Pilots
    point: Views
    boot: Views
    joint: TailLaw
    centre_general: np.ndarray  # what the draws scatter around, the pilots' shape
    d_general: np.ndarray  # the bootstrap draws of the general-loss change
    free: float | None
    settings: FitSettings

    @property
    def law_point(self) -> float:
        return float(self.point.chosen_epsilon[0])


@dataclass
class EpsilonInterval:
    interval: tuple[float, float]
    parts: dict  # the bootstrap intervals, reported; within the pilots the law-free one is added
    errors: dict  # the systematic half-widths at the level, added to it in quadrature
    calibration: dict = field(default_factory=dict)  # of the extrapolation term, past the pilots
    notes: list[str] = field(default_factory=list)


def percentile_interval(values, level) -> tuple[float, float] | None:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = 50 * (1 - level)
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def extrapolation_term(inputs: IntervalInputs):
    """Past the pilots: the plan's law's error at this factor, calibrated on cuts of the pilots, read
    as a band around the law's general-loss change per ratio and carried to the ε crossing."""
    if inputs.free is not None:
        return {}, []
    pilots, settings = inputs.pilots, inputs.settings
    calibration = extrapolation.calibrate(pilots, settings.resolved_budget() / pilots.pilot_tokens)
    quantile = calibration.quantile(settings.level)
    record = {**calibration.to_dict(), "quantile": quantile}
    if not np.isfinite(quantile):
        needed = int(np.ceil(settings.level / (1 - settings.level)))
        return {"extrapolation": 1.0, "calibration": record}, [
            f"the pilots give {calibration.errors.size} extrapolation errors to calibrate on, and a "
            f"{settings.level:g} interval needs {needed}: the interval is [0, 1]; evaluate the pilots "
            f"more often, run them longer or lower the level"
        ]
    scale = extrapolation.prediction_scale(pilots, inputs.joint)
    change, epsilon = inputs.point.joint_at_budget[0], settings.epsilon
    low = float(piecewise_crossing(pilots.ratios, change + quantile * scale, epsilon)[0])
    high = float(piecewise_crossing(pilots.ratios, change - quantile * scale, epsilon)[0])
    point = inputs.law_point
    return {"extrapolation": (point - low, high - point), "calibration": record}, []


def ratio_interpolation(inputs: IntervalInputs):
    """Past the pilots, between pilot ratios: the joint law's linear-in-R crossing errs by at most the
    leave-one-ratio-out shift, anywhere within it, so at a level it is that share of the bound. Within
    the pilots the law-free crossing is smooth in R (``smooth_crossing``) and this term does not apply."""
    if inputs.free is not None:
        return {}, []
    change, epsilon = inputs.point.joint_at_budget[0], inputs.settings.epsilon
    bound = ratio_interpolation_error(inputs.pilots.ratios, change, epsilon)
    return {"ratio_interpolation": inputs.settings.level * bound}, []


SYSTEMATIC_TERMS = [extrapolation_term, ratio_interpolation]


def seed_inflation(pilots: Pilots, level: float) -> float:
    """How much wider than the bootstrap's percentiles a level's interval is when the run-to-run
    spread is estimated from few seeds: Student's t over the normal quantile, with one degree of
    freedom per seed beyond the first of each ratio (1 with one seed: then the draws' residuals are a
    law's, with many degrees of freedom)."""
    curves = (pilots.weights[:, :, 1:] > 0).any(axis=-1).sum(axis=1)
    freedom = int((curves - 1).sum())
    if freedom < 1 or pilots.seeds < 2:
        return 1.0
    from scipy import (
        stats,
    )  # here: the command line's parser imports this module, and no heavy library

    tail = (1 + level) / 2
    return float(stats.t.ppf(tail, freedom) / stats.norm.ppf(tail))


def bootstrap_parts(inputs: IntervalInputs) -> dict:
    """The bootstrap intervals: of the plan's law, and within the pilots of the law-free crossing
    (its spread around the centre widened by ``seed_inflation``)."""
    level, pilots, budget = inputs.settings.level, inputs.pilots, inputs.settings.resolved_budget()
    epsilon = inputs.settings.epsilon
    parts = {"bootstrap_law": percentile_interval(inputs.boot.chosen_epsilon, level)}
    if inputs.free is not None:
        noisy = smooth_crossing(
            pilots.ratios, at_tokens(pilots, inputs.d_general, budget).T, epsilon
        )
        centre = at_tokens(pilots, inputs.centre_general, budget)
        clean = float(smooth_crossing(pilots.ratios, centre, epsilon)[0])
        spread = percentile_interval(noisy - clean, level)
        widen = seed_inflation(pilots, level)
        parts["bootstrap_law_free"] = (
            None
            if spread is None
            else (inputs.free + widen * spread[0], inputs.free + widen * spread[1])
        )
    return parts


def epsilon_interval(inputs: IntervalInputs, terms=SYSTEMATIC_TERMS) -> EpsilonInterval:
    parts = bootstrap_parts(inputs)
    errors: dict = {}
    notes: list[str] = []
    calibration: dict = {}
    for term in terms:
        found, said = term(inputs)
        calibration = found.pop("calibration", calibration)
        errors.update(found)
        notes += said
    centre = inputs.law_point if inputs.free is None else inputs.free
    sides = [np.broadcast_to(np.asarray(e, dtype=float), 2) for e in errors.values()]
    if parts.get("bootstrap_law_free"):
        low, high = parts["bootstrap_law_free"]
        sides.append(np.array([centre - low, high - centre]))
    below, above = np.sqrt(np.sum(np.square(sides), axis=0)) if sides else (0.0, 0.0)
    interval = (float(max(centre - below, 0.0)), float(min(centre + above, 1.0)))
    return EpsilonInterval(interval, parts, errors, calibration, notes)
