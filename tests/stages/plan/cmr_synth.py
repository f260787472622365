"""Synthetic pilot curves with known laws: the general loss rises then falls, and its turnaround
T0(R) follows a known CMR law R = A4·t^S4 + B3 exactly (t = tokens / PILOT_TOKENS) at a given λ."""

import numpy as np

PILOT_TOKENS = 20e9  # the paper's CPT budget
RATIOS = (1 / 8, 1 / 4, 1 / 3, 1 / 2, 3 / 4, 1.0)
S4, B3 = 0.8, -0.4
A4 = (1 - B3) / 0.9**S4  # R = 1 turns around at 90% of the pilot
S1, S2, S3, ALPHA3 = 0.35, 0.3, 1.0, -0.08
BASE_GENERAL, BASE_DOMAIN = 2.3, 2.9


def true_t0(ratio):
    return ((ratio - B3) / A4) ** (1 / S4)


def true_cmr(t):
    return A4 * t**S4 + B3


def true_laws(ratio, lam):
    """(alpha1, alpha2): the domain law's scale and the general rise set so that ∂F/∂t = 0 at T0(R)."""
    alpha1 = -(0.2 + 0.6 * ratio)
    t0 = true_t0(ratio)
    domain_slope = alpha1 * S1 * t0 ** (S1 - 1)
    alpha2 = (-domain_slope / lam - ALPHA3 * S3 * t0 ** (S3 - 1)) / (S2 * t0 ** (S2 - 1))
    return alpha1, alpha2


def true_general_change(ratio, t, lam):
    _, alpha2 = true_laws(ratio, lam)
    return alpha2 * t**S2 + ALPHA3 * t**S3


def make_curves(lam=1000.0, noise=1e-3, seed=0, ratios=RATIOS, points=40, domain="finance"):
    """Columns of a pilot-curve CSV, with Gaussian noise on every CPT evaluation."""
    rng = np.random.default_rng(seed)
    t = np.concatenate([[0.0], np.geomspace(0.01, 1, points)])
    columns = {"domain": [], "ratio": [], "tokens": [], "general_loss": [], "domain_loss": []}
    for ratio in ratios:
        alpha1, _ = true_laws(ratio, lam)
        jitter = noise * rng.standard_normal((2, len(t))) * (t > 0)
        columns["domain"] += [domain] * len(t)
        columns["ratio"] += [ratio] * len(t)
        columns["tokens"] += list(t * PILOT_TOKENS)
        columns["general_loss"] += list(
            BASE_GENERAL + true_general_change(ratio, t, lam) + jitter[0]
        )
        columns["domain_loss"] += list(BASE_DOMAIN + alpha1 * t**S1 + jitter[1])
    return {k: np.array(v) for k, v in columns.items()}


def merge(*curve_sets):
    return {k: np.concatenate([c[k] for c in curve_sets]) for k in curve_sets[0]}


FORGETTING = {1e6: 1.6, 2e6: 1.3, 4e6: 1.1}


def sized_curves(forgetting=FORGETTING):
    """make_curves at each size, its general-loss change scaled by that size's forgetting."""
    sets = []
    for i, (params, scale) in enumerate(forgetting.items()):
        curves = make_curves(seed=i)
        base = curves["general_loss"][curves["tokens"] == 0][0]
        curves["general_loss"] = base + scale * (curves["general_loss"] - base)
        curves["params"] = np.full(curves["ratio"].shape, params)
        sets.append(curves)
    return merge(*sets)
