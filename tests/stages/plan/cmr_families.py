"""Pilot curves of shape families that chose nothing in the planner's design, in the demo's layout.

The general-loss change ΔL_gen(R, t), t = tokens / PILOT_TOKENS, of two families, neither a power law
in t nor the exponential saturations of ``cmr_shapes``:
- ``hinge``: piecewise linear in log t, a rise to a peak at t = 0.05, then a fall at a rate set by R;
- ``sqrt_decay``: a saturating rise times a decay in the square root of t towards a floor.
Each family has a shape parameter drawn per draw (so the family is a family, not one curve). The
noise is modelled per ratio (its level grows with R) and per seed (a run offset and a run scale),
with independent noise per evaluation. The truth is where the noise-free ΔL_gen at the budget
reaches ε.
"""

import numpy as np
from scipy.optimize import brentq

PILOT_TOKENS = 1e9
RATIOS = (0.25, 0.5, 0.75, 1.0)  # the demo's layout: 4 ratios × 12 evaluations, 2 seeds
EVALUATIONS = 12
EPSILON = 0.05


def hinge(ratio, t, shape):
    with np.errstate(divide="ignore"):
        u = np.log(np.maximum(t, 1e-12) / 0.05)
    peak, fall = 0.05 + 0.2 * ratio**2, (0.01 + 0.01 * ratio) * shape
    rise = np.clip(1 + u / np.log(0.05 / 0.005), 0, 1)
    return np.where(u < 0, peak * rise, peak - fall * u)


def sqrt_decay(ratio, t, shape):
    height = 0.07 + 0.25 * ratio**2
    return height * (1 - np.exp(-t / 0.02)) * (0.35 + 0.65 * np.exp(-np.sqrt(t / (0.3 * shape))))


def _rise(t):
    return 1 - np.exp(-t / 0.02)


def logistic_forget(ratio, t, shape):
    """Forgetting that rises, then recovers along a logistic in log t towards a floor."""
    height = 0.04 + 0.2 * ratio**1.5
    u = np.log(np.maximum(t, 1e-12) / (0.15 * shape))
    return height * _rise(t) * (1 - 0.55 / (1 + np.exp(-u / 0.9)))


def growing_forget(ratio, t, shape):
    """Forgetting that keeps growing in log T: the general loss never turns."""
    base = 0.01 + 0.05 * ratio**1.3
    return base * _rise(t) + (0.002 + 0.01 * ratio) * shape * np.log1p(t / 0.05)


def no_turnaround(ratio, t, shape):
    """A slow saturating rise, exponential in R, still rising at the pilots' end."""
    height = 0.015 + 0.12 * np.expm1(1.2 * ratio) / np.expm1(1.2)
    return height * (1 - np.exp(-np.sqrt(t / (0.08 * shape))))


# The design chose its terms on DESIGN_FAMILIES; HELD_OUT_FAMILIES (other R dependences too, not the
# R² of the design's two) judge it.
DESIGN_FAMILIES = {"hinge": hinge, "sqrt_decay": sqrt_decay}
HELD_OUT_FAMILIES = {
    "logistic_forget": logistic_forget,
    "growing_forget": growing_forget,
    "no_turnaround": no_turnaround,
}
FAMILIES = {**DESIGN_FAMILIES, **HELD_OUT_FAMILIES}


def draw_shape(rng) -> float:
    return float(rng.uniform(0.7, 1.3))


def true_cmr(family, shape, budget=1.0, epsilon=EPSILON):
    """The ratio at which the noise-free change at ``budget`` (in pilot lengths) reaches ε."""
    return brentq(lambda r: FAMILIES[family](r, budget, shape) - epsilon, 1e-3, 1.0)


def make_curves(family, shape, rng, length=1.0, seeds=2, noise=0.003):
    """Columns of a pilot-curve CSV: ``seeds`` runs per ratio, EVALUATIONS log-spaced evaluations from
    1% to 100% of ``length`` × PILOT_TOKENS, and the model before CPT at tokens = 0."""
    t = np.concatenate([[0.0], np.geomspace(0.01, 1, EVALUATIONS)]) * length
    grid = np.array([(r, s) for r in RATIOS for s in range(seeds)])
    ratio = grid[:, :1]
    level = noise * (0.5 + ratio)  # per ratio: more domain data, noisier general loss
    run_scale = 1 + 0.03 * rng.standard_normal((len(grid), 1))
    run_offset = level * rng.standard_normal((len(grid), 1))
    change = run_scale * FAMILIES[family](ratio, t, shape) + run_offset
    change += level * rng.standard_normal((len(grid), t.size))
    change[:, 0] = 0.0
    size = t.size
    return {
        "domain": np.full(len(grid) * size, "synth"),
        "ratio": np.repeat(grid[:, 0], size),
        "seed": np.repeat(grid[:, 1], size).astype(int),
        "tokens": np.tile(t * PILOT_TOKENS, len(grid)),
        "general_loss": 3.1 + change.ravel(),
        "domain_loss": 4.2 - 0.3 * np.log1p(np.tile(t, len(grid)) / 0.05),
    }
