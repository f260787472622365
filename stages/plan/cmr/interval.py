"""The ε view's interval (README, "How sure is the CMR?").

It starts from bootstrap spreads (of the plan's law, and of the law-free crossing within the pilots)
and adds systematic errors in quadrature, as independent sources around the plan's value (the
law-free crossing within the pilots, the law past them). Each systematic error is one term of
SYSTEMATIC_TERMS: a function of the interval's inputs giving ``{name: error}`` (empty when it does
not apply) and notes; a new source of error (say, a model-size law's backtest) is one more term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stages.plan.backtests import extrapolation
from stages.plan.cmr.views import EPSILON_LAW, Views
from stages.plan.data.curves import Pilots, at_tokens, piecewise_crossing, ratio_interpolation_error
from stages.plan.settings import FitSettings


@dataclass
class IntervalInputs:
    """What every interval term may read: the pilots, the point and bootstrap views, the draws, the
    law-free crossing (None past the pilots) and the settings (budget resolved)."""

    pilots: Pilots
    point: Views
    boot: Views
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
    parts: dict  # the bootstrap intervals it starts from
    errors: dict  # the systematic errors added to them in quadrature
    extrapolation_errors: dict = field(
        default_factory=dict
    )  # factor -> measured error of the ε crossing
    notes: list[str] = field(default_factory=list)


def percentile_interval(values, level) -> tuple[float, float] | None:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = 50 * (1 - level)
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def model_form(inputs: IntervalInputs):
    """Within the pilots: the law against the law-free crossing."""
    return ({} if inputs.free is None else {"model_form": abs(inputs.law_point - inputs.free)}), []


def extrapolation_term(inputs: IntervalInputs):
    """Past the pilots: the error the pilots' own backtest measured at that extrapolation factor."""
    if inputs.free is not None:
        return {}, []
    settings = inputs.settings
    measured = extrapolation.measured_errors(inputs.pilots, settings, EPSILON_LAW)
    error = extrapolation.error_at(measured, settings.budget / inputs.pilots.pilot_tokens)
    if error is None:
        return {"extrapolation": 1.0}, [
            "the pilots are too short to cut for a backtest, so nothing bounds the "
            "extrapolation error: the interval is [0, 1]"
        ]
    return {"extrapolation": error, "measured": measured}, []


def ratio_interpolation(inputs: IntervalInputs):
    """Between pilot ratios: how far the linear-in-R crossing may sit from the truth."""
    pilots, epsilon = inputs.pilots, inputs.settings.epsilon
    curves = [inputs.point.joint_at_budget[0]]
    if inputs.free is not None:
        curves.append(at_tokens(pilots, pilots.d_general, inputs.settings.budget))
    return {
        "ratio_interpolation": max(
            ratio_interpolation_error(pilots.ratios, v, epsilon) for v in curves
        )
    }, []


SYSTEMATIC_TERMS = [model_form, extrapolation_term, ratio_interpolation]


def bootstrap_parts(inputs: IntervalInputs) -> dict:
    """The bootstrap intervals: of the plan's law, and within the pilots of the law-free crossing."""
    level, pilots, budget, epsilon = (
        inputs.settings.level,
        inputs.pilots,
        inputs.settings.budget,
        inputs.settings.epsilon,
    )
    parts = {"bootstrap_law": percentile_interval(inputs.boot.chosen_epsilon, level)}
    if inputs.free is not None:
        noisy = piecewise_crossing(
            pilots.ratios, at_tokens(pilots, inputs.d_general, budget).T, epsilon
        )
        clean = float(
            piecewise_crossing(
                pilots.ratios, at_tokens(pilots, inputs.centre_general, budget), epsilon
            )[0]
        )
        spread = percentile_interval(noisy - clean, level)
        parts["bootstrap_law_free"] = (
            None if spread is None else (inputs.free + spread[0], inputs.free + spread[1])
        )
    return parts


def epsilon_interval(inputs: IntervalInputs, terms=SYSTEMATIC_TERMS) -> EpsilonInterval:
    parts = bootstrap_parts(inputs)
    errors, notes, measured = {}, [], {}
    for term in terms:
        found, said = term(inputs)
        measured = found.pop("measured", measured)
        errors.update(found)
        notes += said
    law_point = inputs.law_point
    centre = law_point if inputs.free is None else inputs.free
    below, above = [0.0], [0.0]
    if parts["bootstrap_law"]:
        below.append(law_point - parts["bootstrap_law"][0])
        above.append(parts["bootstrap_law"][1] - law_point)
    if parts.get("bootstrap_law_free"):
        below.append(inputs.free - parts["bootstrap_law_free"][0])
        above.append(parts["bootstrap_law_free"][1] - inputs.free)
    systematic = float(np.hypot.reduce(list(errors.values()))) if errors else 0.0
    interval = (
        max(centre - np.hypot(max(below), systematic), 0.0),
        min(centre + np.hypot(max(above), systematic), 1.0),
    )
    return EpsilonInterval((float(interval[0]), float(interval[1])), parts, errors, measured, notes)
