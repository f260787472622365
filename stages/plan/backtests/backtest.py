"""The backtest of ``critmix law validate`` and ``critmix plan``: does the planner predict what it has
not seen?

- Cut every pilot at 1/2 and 1/4 of its tokens, plan for the full pilot length from the short pilots
  (interval included), and compare with the full-curve fit and with the law-free crossing read off
  the full curves: each error, and whether each interval covered.
- Leave one ratio out: the ε crossing without it, and its general-loss change at the pilot length
  predicted from its neighbours (joint law, linear in R) and from the paper's L(R) law, against the
  measured change, in loss units beside ε.
"""

from __future__ import annotations

import numpy as np

from stages.plan.cmr.fit import fit_pilots, plain_values
from stages.plan.cmr.views import EPSILON_LAW, point_views, scalar
from stages.plan.data.curves import MIN_RATIOS, Pilots, at_tokens, law_free_cmr, pilots_of
from stages.plan.settings import FitSettings

CUTS = (0.5, 0.25)


def validate(curves, domain, settings: FitSettings = FitSettings()) -> dict:
    """The backtest of one domain as plain values (for fit.yaml and the report), at the pilot length
    (``settings.budget`` is not read)."""
    pilots = pilots_of(curves, str(domain), settings.reference)
    settings = settings.at(budget=pilots.pilot_tokens)
    epsilon = settings.epsilon
    full = fit_pilots(pilots, settings)
    free = (
        law_free_cmr(pilots, epsilon, pilots.pilot_tokens)
        if pilots.ratios.size >= MIN_RATIOS
        else None
    )
    return plain_values(
        {
            "domain": str(domain),
            "epsilon": epsilon,
            "epsilon_reference": pilots.reference,
            "pilot_tokens": pilots.pilot_tokens,
            "law": EPSILON_LAW,
            "full_fit": full.cmr,
            "full_fit_ci": full.ci,
            "law_free": free,
            "cuts": [_cut(pilots, share, full.cmr, free, settings) for share in CUTS],
            "leave_one_ratio_out": _leave_one_out(pilots, settings, free),
        }
    )


def _cut(pilots: Pilots, share, full_cmr, free, settings: FitSettings) -> dict:
    short = pilots.cut(share * pilots.pilot_tokens)
    row = {"share": share, "tokens": share * pilots.pilot_tokens, "ratios": int(short.ratios.size)}
    if short.ratios.size < MIN_RATIOS:
        return {
            **row,
            "cmr": None,
            "note": f"only {short.ratios.size} ratios keep enough points at this cut",
        }
    result = fit_pilots(short, settings)

    def covers(value):
        return (
            None
            if value is None or result.ci is None
            else bool(result.ci[0] <= value <= result.ci[1])
        )

    def error(value):
        return None if value is None or result.cmr is None else float(result.cmr - value)

    return {
        **row,
        "cmr": result.cmr,
        "ci": result.ci,
        "per_ratio_view": result.epsilon_views.get("per_ratio"),
        "error_vs_full_fit": error(full_cmr),
        "error_vs_law_free": error(free),
        "covers_full_fit": covers(full_cmr),
        "covers_law_free": covers(free),
    }


def _leave_one_out(pilots: Pilots, settings: FitSettings, free) -> list[dict]:
    if pilots.ratios.size <= MIN_RATIOS:
        return []
    budget = pilots.pilot_tokens
    measured = at_tokens(pilots, pilots.d_general, budget)
    rows = []
    for i, ratio in enumerate(pilots.ratios):
        rest = pilots.without(i)
        seen = point_views(rest, settings)
        crossing = float(seen.chosen_epsilon[0])
        inside = 0 < i < pilots.ratios.size - 1
        joint = float(np.interp(ratio, rest.ratios, seen.joint_at_budget[0])) if inside else None
        paper = float(scalar(seen.general_law)(ratio) - pilots.baseline[0])
        rows.append(
            {
                "ratio": float(ratio),
                "cmr_without": crossing,
                "error_vs_law_free": None if free is None else crossing - free,
                "measured_change": float(measured[i]),
                "joint_change": joint,
                "per_ratio_law_change": paper,
                "joint_error": None if joint is None else joint - float(measured[i]),
                "per_ratio_law_error": paper - float(measured[i]),
            }
        )
    return rows
