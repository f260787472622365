import pytest

from stages.plan.cmr.fit import fit_cmr
from stages.plan.cmr.mixture import combine_domains
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_synth import PILOT_TOKENS, make_curves, merge


def test_several_domains_give_one_cmr_each_and_a_valid_mixture():
    curves = merge(
        make_curves(seed=6, domain="finance"), make_curves(lam=200.0, seed=7, domain="papers")
    )
    results = fit_cmr(curves, FitSettings(budget=0.6 * PILOT_TOKENS, epsilon=0.1, draws=16))
    cmrs = {d: r.cmr for d, r in results.items()}
    assert set(cmrs) == {"finance", "papers"} and cmrs["finance"] != cmrs["papers"]
    mixture = combine_domains(cmrs)
    assert mixture.general + sum(mixture.domains.values()) == pytest.approx(1)
    assert all(mixture.domains[d] <= cmrs[d] + 1e-12 for d in cmrs)
    assert mixture.general >= max(1 - c for c in cmrs.values()) - 1e-12


def test_a_domain_without_feasible_ratio_does_not_block_the_others():
    mixture = combine_domains({"a": 0.4, "b": 0.0}, weights={"a": 1.0, "b": 1.0})
    assert mixture.domains == {"a": 0.4, "b": 0.0} and mixture.general == pytest.approx(0.6)
    assert mixture.warnings == ["domain 'b' has no feasible ratio; it gets share 0"]
