"""Does the CMR interval mean its stated level, in the demo's layout, on shapes that chose nothing?

The curves come from ``cmr_families`` (4 ratios × 12 evaluations × 2 seeds, shape families neither
the planner's laws nor the shapes its design was tuned on, noise per ratio and per seed). With pilots
1/1.58 of the budget (the demo's factor, where the extrapolation term decides), nominal 0.5 and 0.8 intervals
should cover 0.40-0.60 and 0.72-0.88 of the draws and 0.95 intervals at least 0.90, and the 0.95
interval should be no more than 1.3× as wide as the narrowest rescaling of it that still covers 95%.
The fast test runs few draws, so its bands are the binomial spread of that few around the level.
"""

import numpy as np
import pytest

from stages.plan.cmr.fit import fit_pilots
from stages.plan.data.curves import pilots_of
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_families import FAMILIES, PILOT_TOKENS, draw_shape, make_curves, true_cmr

DEMO_FACTOR = 1.58


def draws_of(family, length, level, draws, boot=20):
    """Per draw: (truth, plan's value, interval) for pilots ``length`` × the budget."""
    out = []
    for draw in range(draws):
        rng = np.random.default_rng(7000 + draw)
        shape = draw_shape(rng)
        pilots = pilots_of(make_curves(family, shape, rng, length=length), "synth")
        result = fit_pilots(
            pilots, FitSettings(budget=PILOT_TOKENS, level=level, draws=boot, seed=draw)
        )
        out.append((true_cmr(family, shape), result.cmr_epsilon, result.ci))
    return out


def coverage(rows) -> float:
    return float(np.mean([low <= truth <= high for truth, _, (low, high) in rows]))


def narrowest_rescaling(rows, share=0.95) -> float:
    """The smallest factor by which every interval, scaled about the plan's value, covers ``share``."""
    needed = [
        (centre - truth) / max(centre - low, 1e-12)
        if truth < centre
        else (truth - centre) / max(high - centre, 1e-12)
        for truth, centre, (low, high) in rows
    ]
    return float(np.quantile(needed, share))


BANDS = {0.5: (0.40, 0.60), 0.8: (0.72, 0.88), 0.95: (0.90, 1.0)}


@pytest.mark.parametrize("level", sorted(BANDS))
def test_few_draws_cover_within_their_binomial_spread_of_the_level(level):
    rows = [
        r for family in FAMILIES for r in draws_of(family, 1 / DEMO_FACTOR, level, draws=12, boot=4)
    ]
    spread = 2.5 * np.sqrt(level * (1 - level) / len(rows))
    assert level - spread <= coverage(rows) <= min(level + spread, 1.0), coverage(rows)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_intervals_cover_at_their_level_and_the_95_is_not_too_wide(family):
    for level, (low, high) in BANDS.items():
        rows = draws_of(family, 1 / DEMO_FACTOR, level, draws=100)
        assert low <= coverage(rows) <= high, (level, coverage(rows))
    assert narrowest_rescaling(rows) >= 1 / 1.3, narrowest_rescaling(rows)
