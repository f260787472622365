"""The critical mixture ratio (CMR) of continual pre-training, after arXiv 2407.17467.

For each domain, pilot runs at several ratios R (domain share of the CPT tokens), optionally with
several seeds each, give loss curves. The views (``stages.plan.views``): the paper's turnaround law
R_CMR(T) through the points (T0(R), R); the ε tolerance, where the general loss at the budget reaches
L_gen(M) + ε, read from the paper's per-ratio laws and from one law over (R, T) fitted jointly across
ratios; and, when the budget lies within the pilots, the same ε crossing read off the measured losses
with no law at all. The plan's ε view is that law-free crossing within the pilots and the joint law
past them. The plan uses the smaller of the turnaround and the ε view when the turnaround law is
reliable, and the ε view alone when it is not, saying why.

The interval (README, "How sure is the CMR?") joins: a bootstrap that resamples whole seeds and blocks
of residuals along each curve and refits every law; the law-free crossing and its own spread; and,
past the pilots, the error the pilots' own backtest measured at that extrapolation factor.

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

import numpy as np

from stages.plan import extrapolation
from stages.plan.curves import (MIN_POINTS_PER_RATIO, MIN_RATIOS, Pilots, at_tokens, law_free_cmr, piecewise_crossing,
                                pilots_of, ratio_interpolation_error)
from stages.plan.laws import INCREMENT_EXPONENTS, PowerLaw
from stages.plan.resample import resample
from stages.plan.turnaround import LOW_R2, describe, reliability
from stages.plan.views import EPSILON_LAW, Views, fit_laws, point_fit, scalar, views

EXTRAPOLATION_WARN = 2.0


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
    epsilon_reference: str = "base"  # the general-loss change is measured against: base | control (R = 0 pilot)
    control_general_change: float | None = None  # the R = 0 control's general-loss change against the base
    epsilon_views: dict = field(default_factory=dict)  # per_ratio, joint, law_free
    ci_parts: dict = field(default_factory=dict)  # bootstrap intervals the ε interval starts from
    ci_errors: dict = field(default_factory=dict)  # systematic errors added to them in quadrature
    extrapolation_errors: dict = field(default_factory=dict)  # factor -> measured error of the ε crossing
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


def _choose(point: Views, eps, flags):
    turn = float(point.turnaround[0])
    if flags["reliable"] and np.isfinite(turn):
        binding = "turnaround" if turn < eps else "epsilon"
        law = "turnaround law clipped to [0, 1] at the budget" if point.turnaround_clipped[0] else "turnaround law is reliable"
        return min(turn, eps), "min", f"{law}, so the tighter of the two views binds", binding
    return eps, "epsilon", f"turnaround law unreliable: {describe(flags, point.t0[0], _first(point.cmr_law))}", "epsilon"


def _first(law):
    return None if law is None else scalar(law)


def _lambda_balance(laws, budget, pilot_tokens):
    """The λ at which both terms of F weigh alike: the domain-loss drop at the budget over the peak
    general-loss rise, median over ratios."""
    grid = np.geomspace(1e-3, 1, 200)[:, None] * pilot_tokens
    rise = np.maximum(laws.d_general(grid).max(axis=0) - laws.d_general(0.0), 1e-12)
    return float(np.median(np.abs(laws.d_domain(budget)) / rise))


def _warnings(point: Views, laws, pilots: Pilots, cmr, budget):
    pilot_tokens, ratio_list = pilots.pilot_tokens, pilots.ratios
    notes = []
    if cmr == 0:
        notes.append(f"no ratio is feasible at budget {budget:.3g} tokens: the general loss has not come back "
                     f"within tolerance; try a larger budget (or a larger ε)")
    if cmr == 1:
        notes.append("every ratio is feasible (CMR = 1): the general loss stays within tolerance even on "
                     "domain data alone; check ε and the budget")
    if point.turnaround_clipped[0]:
        notes.append(f"the CMR law gives {float(point.cmr_law(budget / pilot_tokens)[0]):.3f} at the budget, "
                     f"outside [0, 1]; clipped")
    general_law = scalar(point.general_law)
    if general_law.exponent_at_bound() or general_law.r2 < LOW_R2:
        notes.append(f"the general-loss L(R) law fits poorly (s = {general_law.s:.2f}, R² {general_law.r2:.2f}); "
                     f"the per-ratio ε view interpolates it, so check it against the per-ratio table")
    if budget > EXTRAPOLATION_WARN * pilot_tokens:
        notes.append(f"budget is {budget / pilot_tokens:.1f}× the pilot budget ({pilot_tokens:.3g} tokens): "
                     f"the laws are extrapolated that far; run longer pilots to trust it")
    if 0 < cmr < min(ratio_list):
        notes.append(f"CMR {cmr:.3f} is below the smallest pilot ratio {min(ratio_list):g}: extrapolated in R")
    first_eval = np.where(pilots.weights[:, :, 1:] > 0, pilots.tokens[:, :, 1:], np.inf).min(axis=(1, 2))
    early = [f"{r:g}" for r, t0, first in zip(ratio_list, point.t0[0], first_eval) if t0 * pilot_tokens < first]
    if early:
        notes.append(f"T0 lies before the first evaluation at ratio(s) {', '.join(early)}: evaluate earlier to see it")
    margin = 1e-3 * (INCREMENT_EXPONENTS[1] - INCREMENT_EXPONENTS[0])
    at_bound = [f"{r:g}" for r, *exps in zip(ratio_list, laws.s1[:, 0], laws.s2[:, 0], laws.s3[:, 0])
                if any(min(e - INCREMENT_EXPONENTS[0], INCREMENT_EXPONENTS[1] - e) < margin for e in exps)]
    if at_bound:
        notes.append(f"an increment-law exponent sits at its bound {INCREMENT_EXPONENTS} at ratio(s) "
                     f"{', '.join(at_bound)}: that law's shape is forced, not measured")
    return notes


def _ci(values, level):
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = 50 * (1 - level)
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def _no_fit(pilots: Pilots, settings) -> CMRResult:
    return CMRResult(cmr=None, ci=None, cmr_epsilon=None, cmr_turnaround=None, used="none", binding=None,
                     reason=f"only {pilots.ratios.size} usable ratios; a CMR needs pilots at ≥ {MIN_RATIOS} ratios "
                     f"with ≥ {MIN_POINTS_PER_RATIO} points each", lambda_balance=None, warnings=pilots.warnings,
                     **settings)


def fit_domain(curves, domain, lam=1000.0, epsilon=0.05, budget=None, n_boot=100, level=0.95, seed=0,
               reference=None) -> CMRResult:
    """The CMR of one domain of the pilot curves at ``budget`` tokens (default: the pilot budget);
    ``reference`` as in ``stages.plan.curves.pilots_of``."""
    return fit_pilots(pilots_of(curves, str(domain), reference), lam, epsilon, budget, n_boot, level, seed)


def fit_pilots(pilots: Pilots, lam=1000.0, epsilon=0.05, budget=None, n_boot=100, level=0.95, seed=0) -> CMRResult:
    pilot_tokens = pilots.pilot_tokens
    budget = float(budget or pilot_tokens)
    settings = dict(domain=pilots.domain, lam=lam, epsilon=epsilon, budget=budget, pilot_tokens=pilot_tokens,
                    baseline_losses=pilots.baseline, seeds=pilots.seeds, epsilon_reference=pilots.reference,
                    control_general_change=pilots.control_general_change)
    if pilots.ratios.size < MIN_RATIOS:
        return _no_fit(pilots, settings)
    laws, joint = point_fit(pilots)
    point = views(pilots, laws, joint, lam, epsilon, budget)
    flags = reliability(point.t0[0], pilots.ratios, _first(point.cmr_law))
    free = law_free_cmr(pilots, epsilon, budget)
    # Within the pilots the ε view reads the measured losses; a law is needed only past them.
    eps = free if free is not None else float(point.chosen_epsilon[0])
    cmr, used, reason, binding = _choose(point, eps, flags)
    fitted, from_seeds = _centre(pilots, laws)
    d_gen, d_dom = resample(pilots, fitted, n_boot, np.random.default_rng(seed), from_seeds)
    boot_laws, boot_joint = fit_laws(pilots, d_gen, d_dom, start=(laws, joint), tol=2e-3)
    boot = views(pilots, boot_laws, boot_joint, lam, epsilon, budget, start=point, tol=1e-3)
    parts, errors, backtest, notes = _epsilon_interval(pilots, point, boot, fitted[0], d_gen, free, epsilon, budget, level)
    ci = parts["epsilon"] if used == "epsilon" or binding == "epsilon" else _ci(np.fmin(boot.turnaround, boot.chosen_epsilon), level)
    return CMRResult(
        cmr=cmr, ci=ci, cmr_epsilon=eps,
        cmr_turnaround=None if np.isnan(point.turnaround[0]) else float(point.turnaround[0]),
        used=used, reason=reason, binding=binding, lambda_balance=_lambda_balance(laws.map(lambda v: v[:, 0]), budget, pilot_tokens),
        epsilon_views={**{k: float(v[0]) for k, v in point.epsilon.items()}, "law_free": free},
        ci_parts=parts, ci_errors=errors, extrapolation_errors=backtest,
        general_change=_general_change(pilots, point, boot, fitted[0], d_gen, free is not None, budget, level),
        ratios=_ratio_points(pilots, point, laws, epsilon, budget),
        cmr_law=None if point.cmr_law is None else {**scalar(point.cmr_law).to_dict(), "t_scale": pilot_tokens},
        general_ratio_law=scalar(point.general_law).to_dict(),
        domain_ratio_law=PowerLaw.fit(pilots.ratios, pilots.baseline[1] + laws.d_domain(budget)[:, 0]).to_dict(),
        reliability=flags, warnings=pilots.warnings + _warnings(point, laws, pilots, cmr, budget) + notes,
        ci_epsilon=parts["epsilon"], ci_turnaround=_ci(boot.turnaround, level), **settings)


def _centre(pilots: Pilots, laws):
    """What the bootstrap draws scatter around: the mean of the seeds where every seed was evaluated at
    the same tokens (their differences are noise alone), else the per-ratio laws (whose residuals also
    carry the law's misfit, so one seed gives a wider, cruder interval)."""
    same_grid = (pilots.weights == pilots.weights[:, :1]).all() and np.allclose(
        pilots.tokens * pilots.weights, pilots.tokens[:, :1] * pilots.weights[:, :1])
    if pilots.seeds > 1 and same_grid:
        means = tuple(np.broadcast_to(v.mean(axis=1, keepdims=True), v.shape) for v in (pilots.d_general, pilots.d_domain))
        return means, True
    per_curve = laws.map(lambda v: v[..., None])  # (ratios, 1, 1) against tokens (ratios, seeds, points)
    return (per_curve.d_general(pilots.tokens), per_curve.d_domain(pilots.tokens)), False


def _epsilon_interval(pilots: Pilots, point: Views, boot: Views, centre_general, d_gen, free, epsilon, budget, level):
    """The ε view's interval: the bootstrap spread (of the law, and of the law-free crossing within the
    pilots) and the measured systematic errors, added in quadrature as independent sources around the
    plan's value (the law-free crossing within the pilots, the law past them). Systematic errors: the law against the law-free crossing (model form), the linear
    interpolation between pilot ratios, and past the pilots the backtest's error at that factor."""
    law_point = float(point.chosen_epsilon[0])
    centre = law_point if free is None else free
    parts = {"bootstrap_law": _ci(boot.chosen_epsilon, level)}
    errors, backtest, notes, measured = {}, {}, [], [point.joint_at_budget[0]]
    if free is not None:
        noisy = piecewise_crossing(pilots.ratios, at_tokens(pilots, d_gen, budget).T, epsilon)
        clean = float(piecewise_crossing(pilots.ratios, at_tokens(pilots, centre_general, budget), epsilon)[0])
        spread = _ci(noisy - clean, level)
        parts["bootstrap_law_free"] = None if spread is None else (free + spread[0], free + spread[1])
        errors["model_form"] = abs(law_point - free)
        measured.append(at_tokens(pilots, pilots.d_general, budget))
    else:
        backtest = extrapolation.measured_errors(pilots, epsilon, EPSILON_LAW)
        errors["extrapolation"] = extrapolation.error_at(backtest, budget / pilots.pilot_tokens)
        if errors["extrapolation"] is None:
            notes.append("the pilots are too short to cut for a backtest, so nothing bounds the extrapolation "
                         "error: the interval is [0, 1]")
            errors["extrapolation"] = 1.0
    errors["ratio_interpolation"] = max(ratio_interpolation_error(pilots.ratios, v, epsilon) for v in measured)
    below = [law_point - parts["bootstrap_law"][0] if parts["bootstrap_law"] else 0.0]
    above = [parts["bootstrap_law"][1] - law_point if parts["bootstrap_law"] else 0.0]
    if parts.get("bootstrap_law_free"):
        below.append(free - parts["bootstrap_law_free"][0])
        above.append(parts["bootstrap_law_free"][1] - free)
    systematic = np.hypot.reduce(list(errors.values()))
    interval = (max(centre - np.hypot(max(max(below), 0.0), systematic), 0.0),
                min(centre + np.hypot(max(max(above), 0.0), systematic), 1.0))
    return {**parts, "epsilon": interval}, errors, backtest, notes


def _general_change(pilots: Pilots, point: Views, boot: Views, centre_general, d_gen, measured, budget, level):
    """Per pilot ratio, the ε view's general-loss change at the budget and its bootstrap interval:
    measured (with the spread of the draws around their centre) within the pilots, the joint law past them."""
    if measured:
        value = at_tokens(pilots, pilots.d_general, budget)
        draws = value[:, None] + at_tokens(pilots, d_gen, budget) - at_tokens(pilots, centre_general, budget)[:, None]
    else:
        value, draws = point.joint_at_budget[0], boot.joint_at_budget.T
    tail = 50 * (1 - level)
    low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=1)
    return {"ratios": pilots.ratios.tolist(), "change": value.tolist(), "low": low.tolist(), "high": high.tolist(),
            "source": "measured" if measured else "joint law"}


def _ratio_points(pilots: Pilots, point: Views, laws, epsilon, budget) -> list[RatioPoint]:
    """Per pilot ratio: its turnaround, and its losses at the budget against the ε tolerance."""
    out = []
    for i, (r, t0) in enumerate(zip(pilots.ratios, point.t0[0])):
        fit = laws.take((i, 0))
        out.append(RatioPoint(float(r), None if np.isnan(t0) else float(t0 * pilots.pilot_tokens),
                              bool(np.isfinite(t0) and t0 <= budget / pilots.pilot_tokens),
                              float(pilots.baseline[0] + fit.d_general(budget)),
                              bool(fit.d_general(budget) <= epsilon), float(fit.d_domain(budget)), fit.to_dict()))
    return out


def fit_cmr(curves, lam=1000.0, epsilon=0.05, budget=None, n_boot=100, level=0.95, seed=0,
            reference=None) -> dict[str, CMRResult]:
    """One CMRResult per domain of the pilot curves (a mapping of the CSV's columns to arrays)."""
    return {str(d): fit_domain(curves, d, lam, epsilon, budget, n_boot, level, seed, reference)
            for d in np.unique(curves["domain"])}
