import numpy as np
import pytest

from stages.plan.laws import ExpMixLaw, IncrementLaws, PowerLaw

# The CMR paper's Table 2 (Finance domain loss at the end of CPT): fit on 1, 3/4, 1/2, 1/3, predict 1/4.
TABLE2 = {"460M": (1.4628, 1.4844, 1.5122, 1.5387, 1.5561),
          "940M": (1.3723, 1.3910, 1.4155, 1.4385, 1.4538),
          "1.6B": (1.3242, 1.3416, 1.3643, 1.3854, 1.3994)}


@pytest.mark.parametrize("size", TABLE2)
def test_power_law_predicts_the_papers_held_out_quarter(size):
    *fitted, held_out = TABLE2[size]
    law = PowerLaw.fit([1, 3 / 4, 1 / 2, 1 / 3], fitted)
    assert abs(law(0.25) - held_out) / held_out <= 5e-4
    assert law.alpha < 0 and 0 < law.s < 1  # the shape the paper calls a good domain-loss fit


def test_power_law_recovers_a_negative_exponent_and_evaluates_arrays():
    x = np.linspace(0.1, 1, 12)
    law = PowerLaw.fit(x, 0.3 * x ** -0.7 + 1.2)
    assert (law.alpha, law.s, law.beta) == pytest.approx((0.3, -0.7, 1.2), rel=1e-4)
    assert law(np.array([0.25, 0.5])).shape == (2,) and law.r2 == pytest.approx(1.0)


def test_batch_fit_equals_one_by_one():
    rng = np.random.default_rng(1)
    x = np.linspace(0.1, 1, 10)
    ys = 1 + 0.5 * x[None] ** 0.4 + 0.01 * rng.standard_normal((3, 10))
    batch = PowerLaw.fit(x, ys)
    for row, y in enumerate(ys):
        assert PowerLaw.fit(x, y).s == pytest.approx(batch.s[row], abs=1e-6)


def test_increment_laws_recover_a_rise_then_fall():
    tokens = np.concatenate([[0], np.geomspace(1e7, 1e9, 30)])
    t = tokens / 1e9
    d_general = 0.05 * t ** 0.3 - 0.06 * t ** 0.9
    d_domain = -0.4 * t ** 0.35
    laws = IncrementLaws.fit(tokens, d_general, d_domain)
    assert (laws.alpha1, laws.s1) == pytest.approx((-0.4, 0.35), rel=1e-4)
    assert (laws.s2, laws.s3) == pytest.approx((0.3, 0.9), rel=1e-3)
    assert laws.r2_general > 0.9999 and laws.mse_domain < 1e-12
    assert np.allclose(laws.d_general(tokens), d_general, atol=1e-6)


def test_exponential_mixing_law_recovers_its_parameters():
    ratios = np.array([0.125, 0.25, 1 / 3, 0.5, 0.75, 1.0])
    law = ExpMixLaw.fit(ratios, 1.1 + 0.4 * np.exp(-2.5 * ratios))
    assert (law.c, law.k, law.t) == pytest.approx((1.1, 0.4, -2.5), rel=1e-4)
