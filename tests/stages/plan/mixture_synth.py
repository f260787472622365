"""Single-domain pilot fits (fit.yaml's form) generated from a multi-domain truth that is not the
joint predictor's own form: the tests of the joint mixture plan from them."""

import numpy as np

from stages.plan.cmr.joint_mixture import DomainCurve

RATIOS = [0.25, 0.5, 0.75, 1.0]  # the demo's pilot ratios
BASE_GENERAL = -0.01  # the change at R = 0, against the base
BASE_DOMAIN = 4.0  # the domain loss before CPT


def effective_displacement(harm: dict[str, float], power: float = 1.6):
    """ΔL_gen of a mixture driven by its harm-weighted displacement Σ c_d·s_d, convex in it: domains
    interact (one's cost depends on the others' shares), unlike the predictor's additive form."""

    def truth(shares: dict[str, float]) -> float:
        return BASE_GENERAL + 0.12 * sum(harm[d] * s for d, s in shares.items()) ** power

    return truth


def pilot_fit(truth, domain: str, drop: float, half_width: float, noise: float, rng) -> dict:
    """What fit.yaml holds for ``domain`` after its single-domain pilots: the change at each pilot
    ratio (measured with noise), its interval, and the domain loss L_dom(R) = BASE_DOMAIN − drop·R^0.5."""
    change = np.array([truth({domain: r}) for r in RATIOS]) + rng.normal(0, noise, len(RATIOS))
    return {
        "general_change": {
            "ratios": RATIOS,
            "change": change.tolist(),
            "low": (change - half_width).tolist(),
            "high": (change + half_width).tolist(),
        },
        "domain_ratio_law": {"alpha": -drop, "s": 0.5, "beta": BASE_DOMAIN, "mse": 0, "r2": 1},
        "baseline_losses": [3.0, BASE_DOMAIN],
        "cmr": 0.3,
    }


def fits_of(truth, drops: dict[str, float], half_width=0.004, noise=0.0, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {d: pilot_fit(truth, d, drop, half_width, noise, rng) for d, drop in drops.items()}


def curves_of(fits: dict) -> dict:
    return {d: DomainCurve.from_fit(d, fit) for d, fit in fits.items()}
