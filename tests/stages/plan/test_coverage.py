"""Does the CMR interval cover the truth on curves the planner's laws cannot describe?

100 draws per shape from generators that are not the fitter's law (tests/stages/plan/cmr_shapes.py:
two shapes, AR(1) noise along each curve, a 2% run-to-run spread, two seeds per ratio). At the pilot
length the goal is coverage ≥ 0.9 with a median width ≤ 0.25; with pilots stopped at half the budget,
coverage ≥ 0.85. With 100 draws a true coverage of 0.95 falls below 0.9 with probability ≈ 0.03."""

import numpy as np
import pytest

from stages.plan.cmr.fit import fit_pilots
from stages.plan.data.curves import pilots_of
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_shapes import PILOT_TOKENS, SHAPES, make_curves, true_cmr

DRAWS = 100


def coverage(shape, pilot_share):
    truth = true_cmr(shape)
    covered, widths = 0, []
    for draw in range(DRAWS):
        pilots = pilots_of(make_curves(shape, seed=1000 + draw), "synth").cut(
            pilot_share * PILOT_TOKENS
        )
        result = fit_pilots(pilots, FitSettings(budget=PILOT_TOKENS, draws=50, seed=draw))
        covered += result.ci[0] <= truth <= result.ci[1]
        widths.append(result.ci[1] - result.ci[0])
    return covered / DRAWS, float(np.median(widths))


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_interval_covers_the_true_cmr_at_the_pilot_length(shape):
    share, width = coverage(shape, 1.0)
    assert share >= 0.9 and width <= 0.25, (share, width)


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_interval_covers_the_true_cmr_from_pilots_stopped_at_half(shape):
    share, width = coverage(shape, 0.5)
    assert share >= 0.85, (share, width)
