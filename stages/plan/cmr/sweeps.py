"""How the CMR moves with the planner's two knobs, λ and ε (point fits, no bootstrap)."""

from __future__ import annotations

from stages.plan.cmr.fit import fit_domain
from stages.plan.settings import FitSettings

PAPER_LAMBDAS = (100.0, 300.0, 1000.0, 3000.0, 7000.0)
POINT_DRAWS = 2  # the sweeps read point values; the bootstrap is not looked at
EPSILONS = (0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2)


def default_lambdas(balance: float | None) -> list[float]:
    """The paper's range, ∞, and 0.3×, 1×, 3× lambda_balance so the sweep moves at any scale."""
    around = [] if not balance else [round(balance * f, 3) for f in (0.3, 1.0, 3.0)]
    return sorted(set(PAPER_LAMBDAS) | set(around)) + [float("inf")]


def _row(result) -> dict:
    return {
        "cmr": result.cmr,
        "cmr_turnaround": result.cmr_turnaround,
        "cmr_epsilon": result.cmr_epsilon,
        "law_free": result.epsilon_views.get("law_free"),
        "used": result.used,
        "binding": result.binding,
        "t0": [p.t0 for p in result.ratios],
    }


def lambda_sweep(curves, domain, settings: FitSettings = FitSettings(), lambdas=None) -> list[dict]:
    """How the CMR of one domain moves with λ (``settings.lam`` is not read): only the turnaround view
    depends on it."""

    def fit(lam):
        return fit_domain(curves, domain, settings.at(lam=lam, draws=POINT_DRAWS))

    if lambdas is None:
        lambdas = default_lambdas(fit(settings.lam).lambda_balance)
    return [{"lambda": lam, **_row(fit(lam))} for lam in lambdas]


def epsilon_sweep(
    curves, domain, settings: FitSettings = FitSettings(), epsilons=EPSILONS
) -> list[dict]:
    """How the CMR of one domain moves with ε (``settings.epsilon`` is not read), the tolerated
    general-loss rise: ε binds on every real curve so far, so this is the knob that moves the plan."""
    return [
        {
            "epsilon": eps,
            **_row(fit_domain(curves, domain, settings.at(epsilon=eps, draws=POINT_DRAWS))),
        }
        for eps in epsilons
    ]
