"""The joint mixture: predicted from single-domain pilots generated here by laws that are not the
predictor's own form, and planned by a risk rule that spends ε."""

import numpy as np
import pytest

from stages.plan.cmr.joint_mixture import JointCheck, JointPrediction, predict
from stages.plan.cmr.mixture import MixtureInputs, combine_domains, plan_mixture
from tests.stages.plan.mixture_synth import (
    BASE_GENERAL,
    curves_of,
    effective_displacement,
    fits_of,
)


def mixtures(rng, count=40):
    shares = rng.dirichlet([1.0, 1.0, 1.0], count)[:, :2] * rng.uniform(0.1, 1.0, (count, 1))
    return [{"legal": float(a), "code": float(b)} for a, b in shares]


def test_one_domain_is_its_own_curve_and_no_domain_data_is_the_change_at_r0():
    truth = effective_displacement({"legal": 1.0})
    curves = curves_of(fits_of(truth, {"legal": 1.0}))
    for share in (0.1, 0.3, 0.6, 0.9):
        assert predict(curves, {"legal": share}).change == pytest.approx(
            truth({"legal": share}), abs=2e-3
        )
    assert predict(curves, {"legal": 0.0}).change == pytest.approx(BASE_GENERAL, abs=3e-3)


def test_the_joint_prediction_recovers_interacting_domains_within_their_interaction():
    """Convex in the harm-weighted displacement: the additive model misses only the Jensen gap
    (Σ w·c^p against (Σ w·c)^p), on the cautious side, within 6% of the rise."""
    harm = {"legal": 1.0, "code": 2.0}
    truth = effective_displacement(harm)
    curves = curves_of(fits_of(truth, {"legal": 1.0, "code": 1.0}))
    for shares in mixtures(np.random.default_rng(1)):
        predicted, true = predict(curves, shares).change, truth(shares)
        assert true - 1e-3 <= predicted <= true + 0.06 * (true - BASE_GENERAL) + 1e-3


def test_the_joint_interval_covers_the_truth_from_noisy_pilots():
    harm = {"legal": 1.0, "code": 1.5}
    truth = effective_displacement(harm)
    covered = []
    for seed in range(10):
        curves = curves_of(fits_of(truth, {"legal": 1.0, "code": 1.0}, noise=0.002, seed=seed))
        for shares in mixtures(np.random.default_rng(seed), count=10):
            band = predict(curves, shares)
            covered.append(band.low <= truth(shares) <= band.high)
            assert band.low <= band.change <= band.high
    assert np.mean(covered) >= 0.9


def plan(fits, rule="predicted", **inputs):
    return plan_mixture(rule, MixtureInputs(fits, **inputs))


@pytest.mark.parametrize("epsilon", [0.02, 0.05, 0.1])
def test_the_interval_rule_spends_epsilon_at_the_upper_end_and_the_point_rule_at_the_point(
    epsilon,
):
    fits = fits_of(effective_displacement({"legal": 1.0, "code": 1.5}), {"legal": 1.0, "code": 0.5})
    cautious = plan(fits, epsilon=epsilon)
    assert cautious.prediction.high == pytest.approx(epsilon, abs=1e-7)
    bold = plan(fits, epsilon=epsilon, risk="point")
    assert bold.prediction.change == pytest.approx(epsilon, abs=1e-7)
    assert sum(bold.domains.values()) > sum(cautious.domains.values())
    for mixture in (cautious, bold):
        assert mixture.general + sum(mixture.domains.values()) == pytest.approx(1)


def test_the_total_goes_to_whatever_buys_more_domain_loss_per_unit_of_general_loss():
    truth = effective_displacement({"legal": 1.0, "code": 1.0})
    even = plan(fits_of(truth, {"legal": 1.0, "code": 1.0}))
    assert even.domains["legal"] == pytest.approx(even.domains["code"], rel=1e-3)
    uneven = plan(fits_of(truth, {"legal": 2.0, "code": 0.5}))
    assert uneven.domains["legal"] / uneven.domains["code"] == pytest.approx(4.0, rel=0.05)
    harmful = plan(
        fits_of(effective_displacement({"legal": 1.0, "code": 3.0}), {"legal": 1.0, "code": 1.0})
    )
    assert harmful.domains["legal"] > 2 * harmful.domains["code"]


def test_a_hand_set_share_is_kept_and_counted_in_the_joint_prediction():
    fits = fits_of(effective_displacement({"legal": 1.0, "code": 1.0}), {"legal": 1.0, "code": 1.0})
    free, fixed = plan(fits), plan(fits, fixed={"code": 0.1})
    assert fixed.domains["code"] == 0.1 and fixed.prediction.high == pytest.approx(0.05, abs=1e-7)
    assert fixed.domains["legal"] < free.domains["legal"] + free.domains["code"] - 0.1 + 1e-6


def test_an_offset_from_the_check_pilot_moves_the_shares_and_is_spent_against_epsilon():
    fits = fits_of(effective_displacement({"legal": 1.0}), {"legal": 1.0})
    planned = plan(fits)
    measured_lower = plan(fits, offset=-0.02)
    assert measured_lower.domains["legal"] > planned.domains["legal"]
    assert measured_lower.prediction.high == pytest.approx(0.05, abs=1e-7)
    assert plan(fits, offset=0.02).domains["legal"] < planned.domains["legal"]


def test_the_smallest_cmr_rule_stays_reachable_and_is_predicted_too():
    fits = fits_of(effective_displacement({"legal": 1.0, "code": 1.0}), {"legal": 1.0, "code": 1.0})
    fits["code"]["cmr"] = 0.2
    old = plan(fits, rule="smallest_cmr")
    assert old.domains == combine_domains({"legal": 0.3, "code": 0.2}).domains
    assert old.prediction == predict(curves_of(fits), old.domains)


def test_a_plan_that_cannot_spend_says_so():
    fits = fits_of(effective_displacement({"legal": 1.0}), {"legal": 1.0})
    assert plan(fits, epsilon=-0.02).domains == {"legal": 0.0}
    everything = plan(fits, epsilon=1.0)
    assert everything.domains == {"legal": 1.0} and "no general data" in everything.warnings[0]


def test_a_check_outside_the_interval_corrects_by_its_miss_and_one_inside_does_not():
    predicted = JointPrediction(0.05, 0.04, 0.06)
    inside = JointCheck({"legal": 0.2}, 1e5, predicted, 0.055)
    assert inside.inside and inside.offset == 0
    outside = JointCheck({"legal": 0.2}, 1e5, predicted, 0.033)
    assert not outside.inside and outside.offset == pytest.approx(-0.017)
    assert outside.to_dict()["offset"] == outside.offset
