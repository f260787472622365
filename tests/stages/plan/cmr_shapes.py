"""Pilot curves whose shapes are NOT the planner's power laws, with the noise real pilots have.

Two shapes of the general-loss change ΔL_gen(R, t), t = tokens / PILOT_TOKENS:
- ``recovery``: a fast saturating rise minus a slower saturating recovery,
  a(R)·(1 − e^(−t/0.03)) − b(R)·(1 − e^(−t/0.5));
- ``logistic``: a logistic rise in log t, damped by an exponential decay towards a floor,
  h(R)·σ((ln t − ln 0.02)/0.5)·(0.4 + 0.6·e^(−t/0.4)).
Each pilot run (seed) scales its whole change by 1 + 0.02·z (the run-to-run variation) and adds AR(1)
noise along its evaluations (correlation 0.8), so neighbouring evaluations sit high or low together.
The true CMR is where the noise-free ΔL_gen(R, budget) reaches ε.
"""

import numpy as np
from scipy.optimize import brentq

PILOT_TOKENS = 1e9
RATIOS = (1 / 8, 1 / 4, 1 / 3, 1 / 2, 3 / 4, 1.0)
EPSILON = 0.05
BASE_GENERAL, BASE_DOMAIN = 3.1, 4.2


def recovery(ratio, t):
    a, b = 0.04 + 0.25 * ratio**2, 0.05 + 0.05 * ratio
    return a * (1 - np.exp(-t / 0.03)) - b * (1 - np.exp(-t / 0.5))


def logistic(ratio, t):
    with np.errstate(divide="ignore"):
        rise = 1 / (1 + np.exp(-(np.log(t) - np.log(0.02)) / 0.5))
    return (0.03 + 0.3 * ratio**1.5) * rise * (0.4 + 0.6 * np.exp(-t / 0.4))


SHAPES = {"recovery": recovery, "logistic": logistic}


def domain_change(ratio, t):
    return -(0.2 + 0.8 * ratio) * np.log1p(t / 0.05) / np.log1p(1 / 0.05)


def true_cmr(shape, budget=1.0, epsilon=EPSILON):
    """The ratio at which the noise-free general-loss change at ``budget`` (in pilot lengths) reaches ε."""
    return brentq(lambda r: SHAPES[shape](r, budget) - epsilon, 1e-3, 1.0)


def make_curves(
    shape,
    seed=0,
    seeds=2,
    points=20,
    noise=0.004,
    correlation=0.8,
    run_spread=0.02,
    domain="synth",
    ratios=RATIOS,
):
    """Columns of a pilot-curve CSV (with a seed column): ``seeds`` runs per ratio, ``points``
    log-spaced evaluations from 1% to 100% of PILOT_TOKENS, plus the model before CPT at tokens = 0."""
    rng = np.random.default_rng(seed)
    t = np.concatenate([[0.0], np.geomspace(0.01, 1, points)])
    grid = np.array([(r, s) for r in ratios for s in range(seeds)])
    innovations = rng.standard_normal((2, len(grid), points)) * noise * np.sqrt(1 - correlation**2)
    ar = np.zeros_like(innovations)
    ar[..., 0] = innovations[..., 0] / np.sqrt(1 - correlation**2)
    for i in range(1, points):
        ar[..., i] = correlation * ar[..., i - 1] + innovations[..., i]
    scale = 1 + run_spread * rng.standard_normal((len(grid), 1))
    ratio = grid[:, :1]
    general = BASE_GENERAL + scale * SHAPES[shape](ratio, t) + np.pad(ar[0], ((0, 0), (1, 0)))
    dom = BASE_DOMAIN + scale * domain_change(ratio, t) + np.pad(ar[1], ((0, 0), (1, 0)))
    size = len(t)
    return {
        "domain": np.full(len(grid) * size, domain),
        "ratio": np.repeat(grid[:, 0], size),
        "seed": np.repeat(grid[:, 1], size).astype(int),
        "tokens": np.tile(t * PILOT_TOKENS, len(grid)),
        "general_loss": general.ravel(),
        "domain_loss": dom.ravel(),
    }
