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
    general_law_weights,
    smooth_crossing,
)
from stages.plan.data.resample import resample
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
    from_seeds: bool = True  # the centre is the seeds' mean, not a fitted law (``fit._centre``)

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
    low = float(smooth_crossing(pilots.ratios, change + quantile * scale, epsilon)[0])
    high = float(smooth_crossing(pilots.ratios, change - quantile * scale, epsilon)[0])
    point = inputs.law_point
    return {"extrapolation": (point - low, high - point), "calibration": record}, []


SYSTEMATIC_TERMS = [extrapolation_term]


def noise_freedom(pilots: Pilots, centre: np.ndarray, lending: np.ndarray) -> float:
    """The degrees of freedom of the run-to-run spread the law-free draws are built from, for the
    Student's t that turns their standard deviation into a half-width at a level (inf with one seed:
    then the draws' residuals are a law's, with many degrees of freedom).

    A draw's noise at the budget is a curve's offset plus a residual along it (``resample``): the
    offsets are known from one degree of freedom per seed beyond the first of each lending ratio (3
    with 2 seeds at the demo's 3 ratios below R = 1), the residuals along the curves from many more.
    Their sum's freedom is Welch-Satterthwaite's, weighted by each part's variance: about 11 in the
    demo's layout, where both parts weigh alike."""
    valid = (pilots.weights > 0)[lending]
    valid[..., 0] = False  # the origin is measured exactly
    if pilots.seeds < 2 or not valid.any():
        return float("inf")
    residual = np.where(valid, pilots.d_general[lending] - centre[lending], 0.0)
    points = np.maximum(valid.sum(axis=-1), 1)
    offset = residual.sum(axis=-1) / points
    within = np.where(valid, residual - offset[..., None], 0.0)
    curves = valid.any(axis=-1)
    offset_freedom = max(int((curves.sum(axis=1) - 1).clip(0).sum()), 1)
    within_freedom = max(
        int(((curves.sum(axis=1) - 1).clip(0) * (points.max(axis=1) - 1)).sum()), 1
    )
    offsets = np.sum(offset[curves] ** 2) / offset_freedom
    residuals = np.sum(within**2) / within_freedom
    total = offsets + residuals
    if total <= 0:
        return float("inf")
    return float(total**2 / (offsets**2 / offset_freedom + residuals**2 / within_freedom))


def law_free_half_width(inputs: IntervalInputs) -> float:
    """Within the pilots: the law-free crossing's half-width at the level, Student's t for the
    noise's freedom times the standard deviation of its bootstrap draws around the centre's crossing.

    The draws take residuals only from the ratios the crossing reads (R = 1 left out, as in
    ``general_law_weights``): a ratio made of domain data alone is noisier in general loss, and
    lending its residuals widened every interval (0.66/0.90/0.99 coverage at 0.5/0.8/0.95 on the
    design families, against 0.61/0.84/0.95). The standard deviation, not the draws' percentiles:
    a 0.95 percentile of few draws sits too close to the centre, the spread's scale does not."""
    pilots, settings = inputs.pilots, inputs.settings
    budget, epsilon = settings.resolved_budget(), settings.epsilon
    lending = general_law_weights(pilots.ratios) > 0
    centre = (inputs.centre_general, np.zeros_like(inputs.centre_general))
    rng = np.random.default_rng([settings.seed, 1])
    draws = resample(pilots, centre, settings.draws, rng, inputs.from_seeds, sources=lending)[0]
    noisy = smooth_crossing(pilots.ratios, at_tokens(pilots, draws, budget).T, epsilon)
    clean = float(smooth_crossing(pilots.ratios, at_tokens(pilots, centre[0], budget), epsilon)[0])
    spread = noisy[np.isfinite(noisy)] - clean
    if spread.size < 2:
        return float("nan")
    freedom = noise_freedom(pilots, inputs.centre_general, lending) if inputs.from_seeds else np.inf
    from scipy import (
        stats,
    )  # here: the command line's parser imports this module, and no heavy library

    return float(stats.t.ppf((1 + settings.level) / 2, freedom) * np.std(spread, ddof=1))


def bootstrap_parts(inputs: IntervalInputs) -> dict:
    """The bootstrap intervals: of the plan's law, and within the pilots of the law-free crossing
    (``law_free_half_width`` about it)."""
    parts = {
        "bootstrap_law": percentile_interval(inputs.boot.chosen_epsilon, inputs.settings.level)
    }
    if inputs.free is not None:
        half = law_free_half_width(inputs)
        parts["bootstrap_law_free"] = (
            None if np.isnan(half) else (inputs.free - half, inputs.free + half)
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
