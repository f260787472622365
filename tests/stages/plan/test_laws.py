import numpy as np
import pytest

from stages.plan.laws.joint import TAIL_SHARE, TailLaw
from stages.plan.laws.power import ExpMixLaw, IncrementLaws, PowerLaw, fit_separable, log_tokens

# The CMR paper's Table 2 (Finance domain loss at the end of CPT): fit on 1, 3/4, 1/2, 1/3, predict 1/4.
TABLE2 = {
    "460M": (1.4628, 1.4844, 1.5122, 1.5387, 1.5561),
    "940M": (1.3723, 1.3910, 1.4155, 1.4385, 1.4538),
    "1.6B": (1.3242, 1.3416, 1.3643, 1.3854, 1.3994),
}


@pytest.mark.parametrize("size", TABLE2)
def test_power_law_predicts_the_papers_held_out_quarter(size):
    *fitted, held_out = TABLE2[size]
    law = PowerLaw.fit([1, 3 / 4, 1 / 2, 1 / 3], fitted)
    assert abs(law(0.25) - held_out) / held_out <= 5e-4
    assert law.alpha < 0 and 0 < law.s < 1  # the shape the paper calls a good domain-loss fit


def test_power_law_recovers_a_negative_exponent_and_evaluates_arrays():
    x = np.linspace(0.1, 1, 12)
    law = PowerLaw.fit(x, 0.3 * x**-0.7 + 1.2)
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
    d_general = 0.05 * t**0.3 - 0.06 * t**0.9
    d_domain = -0.4 * t**0.35
    laws = IncrementLaws.fit(tokens, d_general, d_domain)
    assert (laws.alpha1, laws.s1) == pytest.approx((-0.4, 0.35), rel=1e-4)
    assert (laws.s2, laws.s3) == pytest.approx((0.3, 0.9), rel=1e-3)
    assert laws.r2_general > 0.9999 and laws.mse_domain < 1e-12
    assert np.allclose(laws.d_general(tokens), d_general, atol=1e-6)


def test_exponential_mixing_law_recovers_its_parameters():
    ratios = np.array([0.125, 0.25, 1 / 3, 0.5, 0.75, 1.0])
    law = ExpMixLaw.fit(ratios, 1.1 + 0.4 * np.exp(-2.5 * ratios))
    assert (law.c, law.k, law.t) == pytest.approx((1.1, 0.4, -2.5), rel=1e-4)


def test_a_shared_exponent_fit_pools_the_shape_and_keeps_each_curves_coefficients():
    t = np.geomspace(0.05, 1, 15)
    scales = np.array([0.5, 1.0, 2.0])
    y = scales[:, None] * t[None] ** -0.4 + np.array([0.1, 0.2, 0.3])[:, None]
    f = np.broadcast_to(log_tokens(t), (1, 3, 15))
    exps, coefs, sse = fit_separable(f, y[None], np.ones((1, 3, 15)), 1, (-3.0, -0.01))
    assert exps.shape == (1, 1) and exps[0, 0] == pytest.approx(-0.4, abs=1e-4)
    assert coefs[0, :, 0] == pytest.approx(scales, rel=1e-3) and coefs[0, :, 1] == pytest.approx(
        [0.1, 0.2, 0.3], abs=1e-3
    )
    assert sse[0] < 1e-10


def test_the_tail_law_fits_past_the_rise_and_predicts_an_approached_asymptote():
    tokens = np.concatenate([[0.0], np.geomspace(0.01, 1, 25)]) * 1e9
    t = tokens / 1e9
    rise = np.where(t < TAIL_SHARE, 5 * t, 0.0)  # anything before the tail is ignored
    curves = np.stack(
        [c + b * np.maximum(t, 1e-9) ** -0.5 + rise for c, b in ((0.02, 0.01), (0.1, 0.02))]
    )
    law = TailLaw.fit(np.broadcast_to(tokens, (2, 26)), curves[None], np.ones((2, 26)), 1e9)
    assert law.exponent[0] == pytest.approx(-0.5, abs=1e-3)
    assert law.d_general(4e9)[0] == pytest.approx([0.02 + 0.01 / 2, 0.1 + 0.02 / 2], abs=1e-4)
