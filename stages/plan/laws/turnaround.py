"""The turnaround T0(R), the root of ∂F/∂T = ∂ΔL_dom/∂T + λ·∂ΔL_gen/∂T where F stops rising (Eq. 7),
and the flags that say when the turnaround law through the points (T0(R), R) cannot be planned with."""

from __future__ import annotations

import numpy as np

from stages.plan.data.curves import MIN_RATIOS
from stages.plan.laws.power import IncrementLaws

TURNAROUND_SEARCH = (1e-3, 1e2)  # in units of the largest pilot token count
BUNCHED_SHARE = 0.1  # all T0 inside this share of the pilot length say nothing about R
LOW_R2 = 0.9


def turnaround_points(laws: IncrementLaws, lam: float, t_range=TURNAROUND_SEARCH, grid_size=256):
    """Scaled turnaround t0 for every member of a (batch-fitted) law; NaN where F rises throughout.

    Scans ∂F/∂t on a log grid for the first change from rising to falling and bisects it. Where F
    falls from the start, T0 is the start of the search (≈ 0): the ratio is feasible at once, the
    paper's reading, not infeasible."""
    grid = np.geomspace(t_range[0], t_range[1], grid_size)
    params = {
        k: np.asarray(v, dtype=float)[..., None] for k, v in vars(laws).items() if k != "t_scale"
    }
    batch_laws = IncrementLaws(laws.t_scale, **params)

    def slope(t):
        d_dom, d_gen = batch_laws.slopes(t)
        return d_gen if np.isinf(lam) else d_dom + lam * d_gen

    with np.errstate(all="ignore"):
        values = slope(grid)
        crossing = (values[..., :-1] > 0) & (values[..., 1:] <= 0)
        found = crossing.any(axis=-1)
        falling_at_once = values[..., 0] <= 0
        first = np.argmax(crossing, axis=-1)
        lo, hi = np.log(grid[first])[..., None], np.log(grid[first + 1])[..., None]
        for _ in range(40):
            mid = (lo + hi) / 2
            rising = slope(np.exp(mid)) > 0
            lo, hi = np.where(rising, mid, lo), np.where(rising, hi, mid)
    return np.where(
        falling_at_once, grid[0], np.where(found, np.exp((lo + hi)[..., 0] / 2), np.nan)
    )


def turnaround(laws: IncrementLaws, lam: float) -> float | None:
    """T0 in tokens for one ratio's laws; λ = inf gives the peak of ΔL_gen; None if F rises throughout."""
    t0 = float(turnaround_points(laws, lam))
    return None if np.isnan(t0) else t0 * laws.t_scale


def reliability(t0_scaled, ratios, cmr_law, turned=None) -> dict:
    """Flags on the turnaround law; any flag makes its CMR unfit to plan with. ``t0_scaled`` is in units
    of the pilot length: turnarounds bunched early are judged against what the pilots saw, not the budget.
    ``turned``: per ratio, whether its measured general loss came down from a peak
    (``curves.general_loss_turns``); with fewer than MIN_RATIOS such ratios the law's turnarounds are
    a law's guess past what was measured, and the view is dropped."""
    found = np.isfinite(t0_scaled)
    t0 = t0_scaled[found]
    flags = {"too_few_points": bool(t0.size < MIN_RATIOS)}
    if turned is not None:
        flags["general_loss_never_turns"] = bool(np.sum(turned) < MIN_RATIOS)
    if cmr_law is not None and not flags["too_few_points"]:
        flags["turnarounds_bunched_early"] = bool(t0.max() <= BUNCHED_SHARE)
        flags["t0_not_monotone_in_ratio"] = bool(
            np.any(np.diff(t0[np.argsort(np.asarray(ratios)[found])]) < 0)
        )
        flags["exponent_at_bound"] = cmr_law.exponent_at_bound()
        flags["low_r2"] = bool(cmr_law.r2 < LOW_R2)
    flags["reliable"] = not any(flags.values())
    return flags


def describe(flags, t0_scaled, cmr_law) -> str:
    t0 = t0_scaled[np.isfinite(t0_scaled)]
    text = {
        "too_few_points": f"only {t0.size} ratios have a turnaround (need ≥ {MIN_RATIOS})",
        "turnarounds_bunched_early": (
            f"all turnarounds sit in the first {100 * t0.max():.0f}% of the pilots, "
            f"so they say nothing about R"
            if t0.size
            else ""
        ),
        "t0_not_monotone_in_ratio": "T0 does not grow with R, so no law R(T) runs through the points",
        "exponent_at_bound": "the CMR-law exponent sits at its bound",
        "general_loss_never_turns": (
            f"the measured general loss came down from a peak at fewer than {MIN_RATIOS} ratios"
        ),
        "low_r2": f"the CMR law fits poorly (R² {float(cmr_law.r2) if cmr_law else 0:.2f})",
    }
    return "; ".join(text[k] for k, v in flags.items() if k != "reliable" and v)
