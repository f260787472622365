"""The CMR views computed from fitted laws, for one fit or a batch of bootstrap refits at once.

- turnaround law: R_CMR(T) = α4·T^s4 + β3 through the points (T0(R), R), read at the budget;
- ε tolerance, per-ratio (the paper's view): each ratio's increment law read at the budget, then
  L_gen(R) = α·R^s + β across ratios, read where it reaches L_gen(M) + ε;
- ε tolerance, joint: the (R, T) law of ``stages.plan.laws.joint`` read at the budget, smooth in R
  across the pilot ratios (``smooth_crossing``, as the law-free crossing), read where it reaches ε.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stages.plan.data.curves import (
    MIN_RATIOS,
    Pilots,
    general_law_weights,
    piecewise_crossing,
    smooth_crossing,
)
from stages.plan.laws.joint import TailLaw
from stages.plan.laws.power import IncrementLaws, PowerLaw
from stages.plan.laws.turnaround import turnaround_points
from stages.plan.settings import FitSettings

CMR_LAW_EXPONENTS = (-3.0, 3.0)
# Which ε view the plan uses: chosen by the backtest (README, "How sure is the CMR?").
EPSILON_LAW = "joint"


@dataclass
class Views:
    """Every view for a batch of B refits; NaN where a view has no answer."""

    t0: np.ndarray  # (B, ratios), in units of the pilot length
    cmr_law: PowerLaw | None
    turnaround: np.ndarray  # (B,)
    turnaround_clipped: np.ndarray
    general_law: PowerLaw
    joint_at_budget: np.ndarray  # (B, ratios), ΔL_gen from the joint law
    epsilon: dict  # law name -> (B,) ε crossings

    @property
    def chosen_epsilon(self) -> np.ndarray:
        return self.epsilon[EPSILON_LAW]


@dataclass
class LawFit:
    """The per-ratio increment laws (parameters (ratios, B)) and the joint law (B, ratios)."""

    laws: IncrementLaws
    joint: TailLaw


def fit_laws(pilots: Pilots, d_general, d_domain, start: LawFit | None = None, tol=1e-6) -> LawFit:
    """Both laws on draws of shape (ratios, B, seeds, points); ``start``: a point fit to warm-start from."""
    ratios, batch = d_general.shape[:2]

    def rows(a):
        return np.broadcast_to(
            pilots.flat(a)[:, None], (ratios, batch, a.shape[1] * a.shape[2])
        ).reshape(ratios * batch, -1)

    def draws(a):
        return a.reshape(ratios * batch, -1)

    law_start = (
        None
        if start is None
        else start.laws.map(
            lambda v: np.repeat(v.reshape(ratios, -1)[:, :1], batch, axis=1).ravel()
        )
    )
    laws = IncrementLaws.fit(
        rows(pilots.tokens),
        draws(d_general),
        draws(d_domain),
        weights=rows(pilots.weights),
        t_scale=pilots.pilot_tokens,
        start=law_start,
        tol=tol,
    )
    joint = TailLaw.fit(
        pilots.flat(pilots.tokens),
        d_general.reshape(ratios, batch, -1).swapaxes(0, 1),
        pilots.flat(pilots.weights),
        pilots.pilot_tokens,
        start=None if start is None else start.joint,
        tol=tol,
    )
    return LawFit(laws.map(lambda v: v.reshape(ratios, batch)), joint)


def point_fit(pilots: Pilots) -> LawFit:
    return fit_laws(pilots, pilots.d_general[:, None], pilots.d_domain[:, None])


def point_views(pilots: Pilots, settings: FitSettings) -> Views:
    """Every view of one fit (no bootstrap), e.g. of pilots cut short for a backtest."""
    return views(pilots, point_fit(pilots), settings.with_budget(pilots.pilot_tokens))


def power_crossing(law: PowerLaw, threshold: float, size=2001):
    """Largest R in (0, 1] with law(R) ≤ threshold per batch member; 0 where none (linear interpolation)."""
    grid = np.linspace(0, 1, size)[1:]
    values = (
        np.asarray(law.alpha)[..., None] * grid ** np.asarray(law.s)[..., None]
        + np.asarray(law.beta)[..., None]
    )
    return piecewise_crossing(grid, values, threshold)


def views(pilots: Pilots, fit: LawFit, settings: FitSettings, start=None, tol=1e-8) -> Views:
    """Every view from one batch of fitted laws, at ``settings.budget`` (resolved)."""
    laws, joint, epsilon, budget = fit.laws, fit.joint, settings.epsilon, settings.resolved_budget()
    ratios = pilots.ratios
    budget_scaled = budget / pilots.pilot_tokens
    t0 = turnaround_points(laws, settings.lam).T
    batch = t0.shape[0]
    general = laws.d_general(budget).T
    general_law = PowerLaw.fit(
        ratios,
        pilots.baseline[0] + general,
        weights=general_law_weights(ratios),
        start=None if start is None else start.general_law.s,
        tol=tol,
    )
    joint_general = joint.d_general(budget)
    eps = {
        "per_ratio": power_crossing(general_law, pilots.baseline[0] + epsilon),
        "joint": smooth_crossing(ratios, joint_general, epsilon),
    }
    has_t0 = np.isfinite(t0)
    cmr_law, turn, clipped = None, np.full(batch, np.nan), np.zeros(batch, bool)
    if has_t0.sum(axis=-1).max() >= MIN_RATIOS:
        law_start = None if start is None or start.cmr_law is None else start.cmr_law.s
        cmr_law = PowerLaw.fit(
            np.where(has_t0, t0, 1.0),
            np.broadcast_to(ratios, t0.shape),
            weights=has_t0.astype(float),
            bounds=CMR_LAW_EXPONENTS,
            start=law_start,
            tol=tol,
        )
        raw = cmr_law(budget_scaled)
        enough = has_t0.sum(axis=-1) >= MIN_RATIOS
        turn = np.where(enough, np.clip(raw, 0, 1), np.nan)
        clipped = enough & ((raw < 0) | (raw > 1))
    return Views(t0, cmr_law, turn, clipped, general_law, joint_general, eps)


def scalar(law: PowerLaw) -> PowerLaw:
    """The first member of a batch-fitted law, as floats."""
    alpha, s, beta, mse, r2 = (
        float(np.asarray(v).reshape(-1)[0]) for v in (law.alpha, law.s, law.beta, law.mse, law.r2)
    )
    return PowerLaw(alpha, s, beta, mse, r2, bounds=law.bounds)
