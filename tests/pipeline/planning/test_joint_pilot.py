"""The joint check pilot: its curriculum, its measured change, and the plan's correction when it misses
(the pilot itself replaced by a measurement made up here, so no training runs)."""

import json

import pytest

from core.errors import ConfigError
from pipeline.commands.plan import joint_mixture, planned_mixture
from pipeline.config import load_config
from pipeline.planning import joint_pilot
from pipeline.planning.curricula import joint_pilot_curriculum
from pipeline.rundir import RunDir
from stages.plan.cmr.joint_mixture import JointCheck
from tests.stages.plan.mixture_synth import effective_displacement, fits_of


def tiny(*overrides):
    return load_config("configs/tiny.yaml", list(overrides))


@pytest.fixture
def fits():
    return fits_of(effective_displacement({"legal": 1.0}), {"legal": 1.0})


def test_the_check_pilot_trains_the_planned_shares_with_general_data_the_rest(in_repo, tmp_path):
    spec = joint_pilot_curriculum(tiny(), {"legal": 0.3}, tmp_path)
    (phase,) = spec.phases
    assert {d: m.share for d, m in phase.mixture.items()} == {"legal": 0.3, "general": 0.7}
    assert phase.tokens == tiny().plan.pilots.tokens and phase.init == str(tmp_path)


def test_the_measured_change_is_against_the_plans_reference(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    records = [{"tokens": 0, "val": {"general": 3.0}}, {"tokens": 100, "val": {"general": 3.04}}]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert joint_pilot.measured_change(metrics, "general", {"epsilon_reference": "base"}) == (
        100,
        pytest.approx(0.04),
    )
    control = {"epsilon_reference": "control", "control_general_change": -0.02}
    assert joint_pilot.measured_change(metrics, "general", control)[1] == pytest.approx(0.06)


def planned_with_check(fits, tmp_path, monkeypatch, miss, config=None):
    """The plan with its check pilot measuring the prediction at the planned shares plus ``miss``."""
    base = tmp_path / "base"
    base.mkdir()
    (base / "model.safetensors").write_bytes(b"")

    def check(config, run, config_path, tokens, base, fits_at_pilot_length, shares):
        predicted = planned_mixture(config, fits_at_pilot_length).prediction
        return JointCheck(shares, 1e5, predicted, predicted.change + miss)

    monkeypatch.setattr(joint_pilot, "check_joint", check)
    trained = {"config_path": None, "tokens": None, "base": base}
    return joint_mixture(config or tiny(), RunDir(tmp_path / "run"), trained, {}, fits)


def test_a_check_inside_the_interval_keeps_the_shares(in_repo, fits, tmp_path, monkeypatch):
    mixture, record = planned_with_check(fits, tmp_path, monkeypatch, miss=0.001)
    assert record["check"]["inside"] and "correction" not in record
    assert mixture.domains == planned_mixture(tiny(), fits).domains


def test_a_check_that_misses_by_more_than_the_interval_corrects_the_shares(
    in_repo, fits, tmp_path, monkeypatch
):
    before = planned_mixture(tiny(), fits)
    mixture, record = planned_with_check(fits, tmp_path, monkeypatch, miss=-0.02)
    assert not record["check"]["inside"] and record["correction"]["offset"] == pytest.approx(-0.02)
    assert record["correction"]["shares_before"] == before.domains
    assert mixture.domains["legal"] > before.domains["legal"]  # it cost less than predicted
    assert record["predicted"]["high"] == pytest.approx(0.05, abs=1e-7)  # ε spent, shifted
    assert "corrected from legal" in mixture.warnings[-1]


def test_a_miss_leaves_hand_set_shares_as_they_are_and_says_so(
    in_repo, fits, tmp_path, monkeypatch
):
    config = tiny("plan.ratios.legal=0.4")
    mixture, record = planned_with_check(fits, tmp_path, monkeypatch, miss=-0.02, config=config)
    assert mixture.domains == {"legal": 0.4} and "the shares stand" in mixture.warnings[-1]


def test_without_the_base_models_weights_the_check_is_skipped_and_said(in_repo, fits, tmp_path):
    trained = {"config_path": None, "tokens": None, "base": tmp_path}
    mixture, record = joint_mixture(tiny(), RunDir(tmp_path / "run"), trained, {}, fits)
    assert "check" not in record and "joint check pilot did not run" in mixture.warnings[-1]


def test_a_mixture_rule_or_risk_that_does_not_exist_is_refused_at_load(in_repo):
    with pytest.raises(ConfigError, match="plan.mixture"):
        tiny("plan.mixture=largest")
    with pytest.raises(ConfigError, match="plan.risk"):
        tiny("plan.risk=half")
    assert planned_mixture(
        tiny("plan.mixture=smallest_cmr"),
        fits_of(effective_displacement({"legal": 1.0}), {"legal": 1.0}),
    ).domains == {"legal": 0.3}
