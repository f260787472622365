"""The critical mixture ratio (CMR) of continual pre-training, after arXiv 2407.17467.

For each domain, pilot runs at several ratios R (domain share of the CPT tokens), optionally with
several seeds each, give loss curves. The views (``stages.plan.cmr.views``): the paper's turnaround law
R_CMR(T) through the points (T0(R), R); the ε tolerance, where the general loss at the budget reaches
L_gen(M) + ε, read from the paper's per-ratio laws and from one law over (R, T) fitted jointly across
ratios; and, when the budget lies within the pilots, the same ε crossing read off the measured losses
with no law at all. The plan's ε view is that law-free crossing within the pilots and the joint law
past them. The plan uses the smaller of the turnaround and the ε view when the turnaround law is
reliable, and the ε view alone when it is not, saying why.

The interval (README, "How sure is the CMR?") is at the plan's level throughout: within the pilots,
the law-free crossing's bootstrap spread (resampling whole seeds and blocks of residuals along each
curve); past them, the plan's law's error at that extrapolation factor, calibrated on cuts of the
pilots themselves; and the error of interpolating between ratios.

Units. Tokens are raw token counts everywhere (CSV, budget, T0). λ needs no conversion from the
paper's units (T = 100 ↔ 20B tokens): scaling T by a constant c scales both terms of ∂F/∂T by 1/c,
so the roots T0, and hence the CMR, do not depend on the token unit. λ is a ratio of loss scales:
it trades domain-loss change against general-loss change. The paper's range (100–7000) reflects
general-loss changes ~100× smaller than domain-loss changes at its scale; elsewhere the balance
differs, so each result carries ``lambda_balance`` (domain-loss drop at the budget over the peak
general-loss rise, median over ratios): λ ≫ lambda_balance means the turnaround is essentially the
peak of ΔL_gen (the λ → ∞ limit), λ ≪ lambda_balance means the domain term decides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stages.plan.cmr.fit_warnings import fit_warnings
from stages.plan.cmr.interval import IntervalInputs, epsilon_interval, percentile_interval
from stages.plan.cmr.views import Views, fit_laws, point_fit, scalar, views
from stages.plan.data.curves import (
    MIN_POINTS_PER_RATIO,
    MIN_RATIOS,
    Pilots,
    at_tokens,
    general_loss_turns,
    law_free_cmr,
    pilots_of,
)
from stages.plan.data.resample import resample
from stages.plan.laws.power import PowerLaw
from stages.plan.laws.turnaround import describe, reliability
from stages.plan.settings import FitSettings


@dataclass
class RatioPoint:
    ratio: float
    t0: float | None
    feasible_turnaround: bool
    general_loss_at_budget: float
    feasible_epsilon: bool
    domain_loss_change_at_budget: float
    laws: dict


@dataclass
class CMRResult:
    """One domain's plan; ``to_dict()`` gives YAML-friendly values for curriculum.yaml."""

    domain: str
    cmr: float | None
    ci: tuple[float, float] | None
    cmr_epsilon: float | None
    cmr_turnaround: float | None
    used: str
    reason: str
    binding: str | None
    lam: float
    epsilon: float
    budget: float
    pilot_tokens: float
    lambda_balance: float | None
    seeds: int = 1
    level: float = 0.95  # of every interval
    epsilon_reference: str = (
        "base"  # the general-loss change is measured against: base | control (R = 0 pilot)
    )
    control_general_change: float | None = (
        None  # the R = 0 control's general-loss change against the base
    )
    epsilon_views: dict = field(default_factory=dict)  # per_ratio, joint, law_free
    ci_parts: dict = field(
        default_factory=dict
    )  # bootstrap intervals; within the pilots the law-free one is added
    ci_errors: dict = field(
        default_factory=dict
    )  # systematic half-widths at the level, added in quadrature
    # past the pilots: the extrapolation term's calibration (factor, cuts, errors pooled, quantile)
    extrapolation_calibration: dict = field(default_factory=dict)
    # The ε view's general-loss change at the budget per pilot ratio (against the reference), with its
    # bootstrap interval: what a mixture at share R is predicted to do, linear in R between ratios.
    general_change: dict = field(default_factory=dict)
    ratios: list[RatioPoint] = field(default_factory=list)
    cmr_law: dict | None = None
    general_ratio_law: dict | None = None
    domain_ratio_law: dict | None = None
    reliability: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ci_epsilon: tuple[float, float] | None = None
    ci_turnaround: tuple[float, float] | None = None
    baseline_losses: tuple[float, float] | None = None  # (general, domain) of the model before CPT

    def to_dict(self) -> dict:
        out = plain_values(asdict(self))
        out["lam"] = "inf" if np.isinf(self.lam) else self.lam
        return out


def plain_values(value):
    """Builtin Python types all the way down, so that yaml.safe_dump and json accept the result."""
    if isinstance(value, dict):
        return {str(k): plain_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_values(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating, int, np.integer)):
        return value if isinstance(value, int) else float(value)
    return value if value is None else str(value)


@dataclass
class Choice:
    """Which view the plan takes, and why."""

    cmr: float
    used: str  # min | epsilon
    reason: str
    binding: str  # turnaround | epsilon


def _choose(point: Views, eps, flags) -> Choice:
    turn = float(point.turnaround[0])
    if flags["reliable"] and np.isfinite(turn):
        binding = "turnaround" if turn < eps else "epsilon"
        law = (
            "turnaround law clipped to [0, 1] at the budget"
            if point.turnaround_clipped[0]
            else "turnaround law is reliable"
        )
        return Choice(
            min(turn, eps), "min", f"{law}, so the tighter of the two views binds", binding
        )
    return Choice(
        eps,
        "epsilon",
        f"turnaround law unreliable: {describe(flags, point.t0[0], _first(point.cmr_law))}",
        "epsilon",
    )


def _first(law):
    return None if law is None else scalar(law)


def _lambda_balance(laws, budget, pilot_tokens):
    """The λ at which both terms of F weigh alike: the domain-loss drop at the budget over the peak
    general-loss rise, median over ratios."""
    grid = np.geomspace(1e-3, 1, 200)[:, None] * pilot_tokens
    rise = np.maximum(laws.d_general(grid).max(axis=0) - laws.d_general(0.0), 1e-12)
    return float(np.median(np.abs(laws.d_domain(budget)) / rise))


def _no_fit(pilots: Pilots, described) -> CMRResult:
    return CMRResult(
        cmr=None,
        ci=None,
        cmr_epsilon=None,
        cmr_turnaround=None,
        used="none",
        binding=None,
        reason=f"only {pilots.ratios.size} usable ratios; a CMR needs pilots at ≥ {MIN_RATIOS} ratios "
        f"with ≥ {MIN_POINTS_PER_RATIO} points each",
        lambda_balance=None,
        warnings=pilots.warnings,
        **described,
    )


def fit_domain(curves, domain, settings: FitSettings = FitSettings()) -> CMRResult:
    """The CMR of one domain of the pilot curves at ``settings.budget`` tokens (default: the pilot length)."""
    return fit_pilots(pilots_of(curves, str(domain), settings.reference), settings)


def interval_at(
    curves, domain, settings: FitSettings = FitSettings()
) -> tuple[float, float] | None:
    """The CMR's interval at ``settings.level``: what an adaptive pilot design asks of the planner."""
    return fit_domain(curves, domain, settings).ci


def fit_pilots(pilots: Pilots, settings: FitSettings = FitSettings()) -> CMRResult:
    pilot_tokens = pilots.pilot_tokens
    settings = settings.with_budget(pilot_tokens)
    budget, level = settings.resolved_budget(), settings.level
    described: dict[str, Any] = dict(
        domain=pilots.domain,
        level=level,
        lam=settings.lam,
        epsilon=settings.epsilon,
        budget=budget,
        pilot_tokens=pilot_tokens,
        baseline_losses=pilots.baseline,
        seeds=pilots.seeds,
        epsilon_reference=pilots.reference,
        control_general_change=pilots.control_general_change,
    )
    if pilots.ratios.size < MIN_RATIOS:
        return _no_fit(pilots, described)
    fit = point_fit(pilots)
    point = views(pilots, fit, settings)
    flags = reliability(
        point.t0[0], pilots.ratios, _first(point.cmr_law), general_loss_turns(pilots)
    )
    free = law_free_cmr(pilots, settings.epsilon, budget)
    # Within the pilots the ε view reads the measured losses; a law is needed only past them.
    eps = free if free is not None else float(point.chosen_epsilon[0])
    choice = _choose(point, eps, flags)
    fitted, from_seeds = _centre(pilots, fit.laws)
    d_gen, d_dom = resample(
        pilots, fitted, settings.draws, np.random.default_rng(settings.seed), from_seeds
    )
    boot = views(
        pilots, fit_laws(pilots, d_gen, d_dom, start=fit, tol=2e-3), settings, start=point, tol=1e-3
    )
    interval = epsilon_interval(
        IntervalInputs(pilots, point, boot, fit.joint, fitted[0], d_gen, free, settings, from_seeds)
    )
    by_epsilon = choice.used == "epsilon" or choice.binding == "epsilon"
    ci = (
        interval.interval
        if by_epsilon
        else percentile_interval(np.fmin(boot.turnaround, boot.chosen_epsilon), level)
    )
    laws = fit.laws
    return CMRResult(
        cmr=choice.cmr,
        ci=ci,
        cmr_epsilon=eps,
        cmr_turnaround=None if np.isnan(point.turnaround[0]) else float(point.turnaround[0]),
        used=choice.used,
        reason=choice.reason,
        binding=choice.binding,
        lambda_balance=_lambda_balance(laws.map(lambda v: v[:, 0]), budget, pilot_tokens),
        epsilon_views={**{k: float(v[0]) for k, v in point.epsilon.items()}, "law_free": free},
        ci_parts={**interval.parts, "epsilon": interval.interval},
        ci_errors=interval.errors,
        extrapolation_calibration=interval.calibration,
        general_change=_general_change(
            pilots, point, boot, fitted[0], d_gen, free is not None, budget, level
        ),
        ratios=_ratio_points(pilots, point, laws, settings.epsilon, budget),
        cmr_law=None
        if point.cmr_law is None
        else {**scalar(point.cmr_law).to_dict(), "t_scale": pilot_tokens},
        general_ratio_law=scalar(point.general_law).to_dict(),
        domain_ratio_law=PowerLaw.fit(
            pilots.ratios, pilots.baseline[1] + laws.d_domain(budget)[:, 0]
        ).to_dict(),
        reliability=flags,
        warnings=pilots.warnings
        + fit_warnings(point, fit, pilots, choice.cmr, budget)
        + interval.notes,
        ci_epsilon=interval.interval,
        ci_turnaround=percentile_interval(boot.turnaround, level),
        **described,
    )


def _centre(pilots: Pilots, laws):
    """What the bootstrap draws scatter around: the mean of the seeds where every seed was evaluated at
    the same tokens (their differences are noise alone), else the per-ratio laws (whose residuals also
    carry the law's misfit, so one seed gives a wider, cruder interval)."""
    same_grid = (pilots.weights == pilots.weights[:, :1]).all() and np.allclose(
        pilots.tokens * pilots.weights, pilots.tokens[:, :1] * pilots.weights[:, :1]
    )
    if pilots.seeds > 1 and same_grid:
        means = tuple(
            np.broadcast_to(v.mean(axis=1, keepdims=True), v.shape)
            for v in (pilots.d_general, pilots.d_domain)
        )
        return means, True
    per_curve = laws.map(
        lambda v: v[..., None]
    )  # (ratios, 1, 1) against tokens (ratios, seeds, points)
    return (per_curve.d_general(pilots.tokens), per_curve.d_domain(pilots.tokens)), False


def _general_change(
    pilots: Pilots, point: Views, boot: Views, centre_general, d_gen, measured, budget, level
):
    """Per pilot ratio, the ε view's general-loss change at the budget and its bootstrap interval:
    measured (with the spread of the draws around their centre) within the pilots, the joint law past them."""
    if measured:
        value = at_tokens(pilots, pilots.d_general, budget)
        draws = (
            value[:, None]
            + at_tokens(pilots, d_gen, budget)
            - at_tokens(pilots, centre_general, budget)[:, None]
        )
    else:
        value, draws = point.joint_at_budget[0], boot.joint_at_budget.T
    tail = 50 * (1 - level)
    low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=1)
    return {
        "ratios": pilots.ratios.tolist(),
        "change": value.tolist(),
        "low": low.tolist(),
        "high": high.tolist(),
        "source": "measured" if measured else "joint law",
    }


def _ratio_points(pilots: Pilots, point: Views, laws, epsilon, budget) -> list[RatioPoint]:
    """Per pilot ratio: its turnaround, and its losses at the budget against the ε tolerance."""
    out = []
    for i, (r, t0) in enumerate(zip(pilots.ratios, point.t0[0])):
        fit = laws.take((i, 0))
        out.append(
            RatioPoint(
                float(r),
                None if np.isnan(t0) else float(t0 * pilots.pilot_tokens),
                bool(np.isfinite(t0) and t0 <= budget / pilots.pilot_tokens),
                float(pilots.baseline[0] + fit.d_general(budget)),
                bool(fit.d_general(budget) <= epsilon),
                float(fit.d_domain(budget)),
                fit.to_dict(),
            )
        )
    return out


def fit_cmr(curves, settings: FitSettings = FitSettings()) -> dict[str, CMRResult]:
    """One CMRResult per domain of the pilot curves (a mapping of the CSV's columns to arrays)."""
    return {str(d): fit_domain(curves, d, settings) for d in np.unique(curves["domain"])}
