"""The error of the ε crossing when the budget lies past the pilots, measured on the pilots themselves.

Cut every pilot at 1/k of its tokens, predict the ε crossing at the full pilot length with the plan's
law, and compare with the law-free crossing read off the full curves: that is the error of going k
times past the data, measured rather than assumed. A budget f times the pilot length gets the error
measured at that factor (linear in log2 f between measured factors, proportional to log2 f beyond).
"""

from __future__ import annotations

import numpy as np

from stages.plan.cmr.views import point_views
from stages.plan.data.curves import MIN_RATIOS, Pilots, law_free_cmr
from stages.plan.settings import FitSettings

FACTORS = (2, 4)


def measured_errors(pilots: Pilots, settings: FitSettings, law: str) -> dict[int, float]:
    """Absolute error of ``law``'s ε crossing at the pilot length, from pilots cut at 1/k, per factor k."""
    truth = law_free_cmr(pilots, settings.epsilon, pilots.pilot_tokens)
    at_pilot_length = settings.at(budget=pilots.pilot_tokens)
    errors = {}
    for factor in FACTORS:
        short = pilots.cut(pilots.pilot_tokens / factor)
        if short.ratios.size >= MIN_RATIOS and truth is not None:
            errors[factor] = abs(float(point_views(short, at_pilot_length).epsilon[law][0]) - truth)
    return errors


def error_at(errors: dict[int, float], factor: float) -> float | None:
    """Expected error at a budget ``factor`` times the pilot length: the error measured at that factor,
    linear in log2(factor) between the measured ones, growing at the last measured rate beyond them.
    None when nothing could be measured."""
    if factor <= 1:
        return 0.0
    if not errors:
        return None
    doublings = [0.0] + [float(np.log2(k)) for k in sorted(errors)]
    measured = [0.0] + [errors[k] for k in sorted(errors)]
    if np.log2(factor) <= doublings[-1]:
        return float(np.interp(np.log2(factor), doublings, measured))
    return float(measured[-1] * np.log2(factor) / doublings[-1])
