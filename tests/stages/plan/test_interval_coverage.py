"""Does the CMR interval mean its stated level, in the demo's layout, on shapes that chose nothing?

The curves come from ``cmr_families`` (4 ratios × 12 evaluations × 2 seeds, noise per ratio and per
seed). The design was chosen on its DESIGN_FAMILIES; these tests judge it on HELD_OUT_FAMILIES only
(logistic forgetting in log t, forgetting that keeps growing, no turnaround; R dependences other
than the design's R²), with the budget at the pilot length and at 1.58× the pilots (the demo's
factor, where the extrapolation term decides). Issue 22 asks nominal 0.5 and 0.8 intervals to cover
0.40-0.60 and 0.72-0.88 of the draws, 0.95 intervals at least 0.90, and the 0.95 interval no wider
than 1.3× the narrowest rescaling of it that still covers 95% (BANDS, WIDEST).

The slow test holds each place (within, past) to those bands on the three held-out families pooled,
SLOW_DRAWS draws each: 180 independent rows, whose binomial standard error is 0.037 at 0.5, 0.030 at
0.8 and 0.016 at 0.95, so each band's edge lies 2.7, 2.7 and 3.1 standard errors from its level: an
interval at its level passes with probability ≈ 0.99 per band, and one 0.1 off at 0.5 or 0.8 fails.
One family alone at 60 draws has a standard error of 0.05-0.065, so per family the bands would fail
by chance; the per-family figures are in bench/bench_interval.py. The fast test asks less: 15 rows
at 0.5 within the pilots, inside 2.5 binomial standard errors (0.18-0.82), which an interval that
always or never covers fails.
"""

import numpy as np
import pytest

from stages.plan.cmr.fit import fit_pilots
from stages.plan.cmr.interval import noise_freedom
from stages.plan.data.curves import general_law_weights, pilots_of
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_families import (
    FAMILIES,
    HELD_OUT_FAMILIES,
    PILOT_TOKENS,
    draw_shape,
    make_curves,
    true_cmr,
)

LENGTHS = (1.0, 1 / 1.58)  # of the budget: at the pilot length, and the demo's factor past it


def draws_of(family, length, draws, boot=10, levels=None):
    """Per level: per draw (truth, plan's value, interval, the whole result) for pilots ``length`` × the budget; every
    family and length draws its own noise, so pooled rows are independent (the binomial bands assume
    it)."""
    out: dict = {level: [] for level in levels or BANDS}
    for draw in range(draws):
        rng = np.random.default_rng(
            [7000 + draw, sorted(FAMILIES).index(family), int(1e3 * length)]
        )
        shape = draw_shape(rng)
        pilots = pilots_of(make_curves(family, shape, rng, length=length), "synth")
        for level in out:
            result = fit_pilots(
                pilots, FitSettings(budget=PILOT_TOKENS, level=level, draws=boot, seed=draw)
            )
            out[level].append((true_cmr(family, shape), result.cmr_epsilon, result.ci, result))
    return out


def coverage(rows) -> float:
    return float(np.mean([low <= truth <= high for truth, _, (low, high), _ in rows]))


def narrowest_rescaling(rows, share=0.95) -> float:
    """The smallest factor by which every interval, scaled about the plan's value, covers ``share``."""
    needed = [
        (centre - truth) / max(centre - low, 1e-12)
        if truth < centre
        else (truth - centre) / max(high - centre, 1e-12)
        for truth, centre, (low, high), _ in rows
    ]
    return float(np.quantile(needed, share))


BANDS = {0.5: (0.40, 0.60), 0.8: (0.72, 0.88), 0.95: (0.90, 1.0)}
WIDEST = 1.3  # the 0.95 interval's width over the narrowest rescaling that covers 95%
SLOW_DRAWS = 60


def test_the_law_free_spread_has_welch_satterthwaites_freedom_between_its_two_parts():
    curves = make_curves("no_turnaround", 1.0, np.random.default_rng(0))
    pilots = pilots_of(curves, "synth")
    lending = general_law_weights(pilots.ratios) > 0
    centre = np.broadcast_to(pilots.d_general.mean(axis=1, keepdims=True), pilots.d_general.shape)
    freedom = noise_freedom(pilots, centre, lending)
    # 3 offsets (one per second seed of the 3 ratios below R = 1) and 3 × 11 residuals along them
    assert 3 < freedom < 3 + 33
    one = pilots_of(make_curves("no_turnaround", 1.0, np.random.default_rng(0), seeds=1), "synth")
    assert noise_freedom(one, one.d_general, lending) == float("inf")


def test_few_draws_within_the_pilots_cover_about_half_at_level_one_half():
    rows = [
        row
        for family in HELD_OUT_FAMILIES
        for row in draws_of(family, 1.0, draws=5, levels=[0.5])[0.5]
    ]
    assert within_binomial_spread(rows, 0.5), coverage(rows)


def within_binomial_spread(rows, level) -> bool:
    spread = 2.5 * np.sqrt(level * (1 - level) / len(rows))
    return level - spread <= coverage(rows) <= level + spread


@pytest.mark.slow
@pytest.mark.parametrize("length", LENGTHS)
def test_held_out_families_cover_in_the_issues_bands_and_the_95_is_not_too_wide(length):
    pooled: dict = {level: [] for level in BANDS}
    for family in sorted(HELD_OUT_FAMILIES):
        for level, rows in draws_of(family, length, draws=SLOW_DRAWS).items():
            pooled[level] += rows
    covered = {level: coverage(rows) for level, rows in pooled.items()}
    assert all(low <= covered[level] <= high for level, (low, high) in BANDS.items()), covered
    assert 1 / narrowest_rescaling(pooled[0.95]) <= WIDEST, narrowest_rescaling(pooled[0.95])
