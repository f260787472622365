import math

from stages.plan.cmr.sweeps import epsilon_sweep, lambda_sweep
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_synth import PILOT_TOKENS, make_curves


def test_lambda_sweep_moves_the_turnaround_view():
    rows = lambda_sweep(
        make_curves(seed=8), "finance", FitSettings(epsilon=1.0, budget=0.6 * PILOT_TOKENS)
    )
    lambdas = [row["lambda"] for row in rows]
    assert {100.0, 7000.0, math.inf} <= set(lambdas)
    by_lambda = {row["lambda"]: row["cmr_turnaround"] for row in rows}
    # Larger λ weighs the general loss more: turnarounds come later, so less domain data fits the budget.
    assert by_lambda[100.0] > by_lambda[7000.0] >= by_lambda[math.inf]


def test_epsilon_sweep_moves_the_epsilon_view_up_with_the_tolerance():
    rows = epsilon_sweep(
        make_curves(seed=8),
        "finance",
        FitSettings(budget=0.6 * PILOT_TOKENS),
        epsilons=(0.01, 0.05, 0.2),
    )
    views = [row["cmr_epsilon"] for row in rows]
    assert [row["epsilon"] for row in rows] == [0.01, 0.05, 0.2]
    assert views[0] < views[1] < views[2]
    assert all(
        row["cmr_turnaround"] == rows[0]["cmr_turnaround"] for row in rows
    )  # λ's view, not ε's
