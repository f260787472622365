import math

import numpy as np
import pytest

from stages.plan.cmr.fit import fit_domain
from stages.plan.data.curves import general_loss_turns, pilots_of
from stages.plan.laws.power import IncrementLaws
from stages.plan.laws.turnaround import reliability, turnaround
from stages.plan.settings import FitSettings
from tests.stages.plan import cmr_families as families
from tests.stages.plan.cmr_synth import PILOT_TOKENS, make_curves


def test_a_curve_without_turnaround_gives_none():
    tokens = np.concatenate([[0], np.geomspace(1e6, 1e8, 20)])
    rising = 0.1 * (tokens / 1e8) ** 0.5
    laws = IncrementLaws.fit(tokens, rising, -rising)
    assert turnaround(laws, 1000.0) is None and turnaround(laws, math.inf) is None


def test_a_general_loss_falling_from_the_start_turns_around_at_once():
    tokens = np.concatenate([[0], np.geomspace(1e6, 1e8, 20)])
    t = tokens / 1e8
    laws = IncrementLaws.fit(tokens, -0.05 * t**0.4 - 0.02 * t, -0.4 * t**0.35)
    t0 = turnaround(laws, 1000.0)
    assert (
        t0 is not None and t0 <= 1e-3 * 1e8 * 1.0001
    )  # T0 ≈ 0: feasible at once, the paper's reading


def test_turnaround_at_infinite_lambda_is_the_general_peak():
    tokens = np.concatenate([[0], np.geomspace(1e6, 1e8, 30)])
    t = tokens / 1e8
    laws = IncrementLaws.fit(tokens, 0.05 * t**0.3 - 0.06 * t**0.9, -0.4 * t**0.35)
    peak = (0.05 * 0.3 / (0.06 * 0.9)) ** (1 / 0.6) * 1e8
    assert turnaround(laws, math.inf) == pytest.approx(peak, rel=1e-3)
    assert turnaround(laws, 1000.0) < turnaround(
        laws, math.inf
    )  # the falling domain loss pulls it earlier


class _Law:
    r2 = 0.99

    def exponent_at_bound(self):
        return False


def test_turnarounds_bunched_early_are_judged_against_the_pilot_length():
    ratios = np.array([0.25, 0.5, 0.75])
    early = reliability(np.array([0.02, 0.04, 0.08]), ratios, _Law())
    later = reliability(np.array([0.05, 0.2, 0.6]), ratios, _Law())
    assert early["turnarounds_bunched_early"] and not early["reliable"]
    assert later["reliable"]


def test_t0_not_growing_with_the_ratio_is_flagged():
    flags = reliability(np.array([0.5, 0.2, 0.6]), np.array([0.25, 0.5, 0.75]), _Law())
    assert flags["t0_not_monotone_in_ratio"] and not flags["reliable"]


def test_a_general_loss_that_never_turns_drops_the_turnaround_view():
    rng = np.random.default_rng(4)
    rising = pilots_of(families.make_curves("no_turnaround", 1.0, rng), "synth")
    turning = pilots_of(families.make_curves("hinge", 1.0, rng), "synth")
    assert not general_loss_turns(rising).any() and general_loss_turns(turning).sum() >= 3
    ratios = np.array([0.25, 0.5, 0.75])
    flags = reliability(np.array([0.05, 0.2, 0.6]), ratios, _Law(), general_loss_turns(rising))
    assert flags["general_loss_never_turns"] and not flags["reliable"]


def test_t0_before_the_first_evaluation_is_warned():
    curves = make_curves(seed=3, points=40)
    late = curves["tokens"] >= 0.4 * PILOT_TOKENS  # the true T0 at R = 1/8 is 0.26 of the pilot
    keep = late | (curves["tokens"] == 0)
    result = fit_domain({k: v[keep] for k, v in curves.items()}, "finance", FitSettings(draws=4))
    early = [w for w in result.warnings if "T0 lies before the first evaluation" in w]
    assert early and "0.125" in early[0]
