"""The "Does the plan hold?" rows, from synthetic laws whose predictions are known in closed form."""

import json

import pytest

from pipeline.reporting.blocks import RunData
from pipeline.reporting.joint_section import joint_mixture
from pipeline.reporting.plan_sections import metadata_label, predicted_vs_measured, sequence_label


def law(alpha, s, beta):
    return {"alpha": alpha, "s": s, "beta": beta, "mse": 0.0, "r2": 1.0}


def change(slope, half_width=0.01):
    """A general-loss change of slope·R at the budget, known at the pilot ratios."""
    ratios = [0.1, 0.2, 0.3, 0.5, 1.0]
    return {
        "ratios": ratios,
        "change": [slope * r for r in ratios],
        "low": [slope * r - half_width for r in ratios],
        "high": [slope * r + half_width for r in ratios],
        "source": "measured",
    }


# General-loss change at ratio R: 0.1·R (legal, against the base) and 0.2·R (code, against the control
# pilot, whose own change against the base is -0.02).
FITS = {
    "legal": {
        "general_change": change(0.1),
        "domain_ratio_law": law(-1.0, 1.0, 6.0),
        "epsilon": 0.05,
        "epsilon_reference": "base",
        "control_general_change": -0.02,
    },
    "code": {
        "general_change": change(0.2),
        "domain_ratio_law": law(-2.0, 1.0, 7.0),
        "epsilon": 0.08,
        "epsilon_reference": "control",
        "control_general_change": -0.02,
    },
}
SPEC = {
    "general_domain": "general",
    "phases": [
        {"name": "general", "mixture": {"general": {"share": 1.0}}},
        {
            "name": "cpt-low",
            "mixture": {"general": {"share": 0.7}, "legal": {"share": 0.2}, "code": {"share": 0.1}},
        },
    ],
}


@pytest.fixture
def run(tmp_path):
    evals = [
        {"phase": "general", "val": {"general": 3.00, "legal": 6.0, "code": 7.0}},
        {"phase": "cpt-low", "val": {"general": 3.04, "legal": 5.9, "code": 6.9}},
    ]
    (tmp_path / "train").mkdir()
    (tmp_path / "train/metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))
    return RunData(tmp_path, {}, None)


def test_each_domain_is_predicted_at_its_share_against_its_reference_and_the_mixture_at_their_sum(
    run,
):
    rows = {row[1]: row for row in predicted_vs_measured(run, FITS, SPEC, "train")}
    (
        _,
        _,
        share,
        predicted,
        interval,
        measured,
        control,
        against,
        epsilon,
        within,
        inside,
        predicted_domain,
        measured_domain,
    ) = rows["legal"]
    assert (share, control, epsilon, within, inside, measured_domain) == (
        0.2,
        -0.02,
        0.05,
        "yes",
        "NO",
        5.9,
    )
    assert predicted == pytest.approx(0.02) and interval == "[0.010, 0.030]"
    assert measured == pytest.approx(0.04) == against and predicted_domain == pytest.approx(
        5.8
    )  # against the base
    code = rows["code"]
    assert code[3] == pytest.approx(0.02) and code[6] == -0.02  # 0.2 x 0.1, against the control
    assert (
        code[7] == pytest.approx(0.06) and code[9] == "yes" and code[10] == "NO"
    )  # 0.04 + 0.02 within 0.08
    joint = rows["all domains (joint)"]
    # The joint model: each domain's part of the displacement 0.3 at its own change there,
    # 2/3 · 0.1 · 0.3 + 1/3 · 0.2 · 0.3 = 0.04, with the domains' interval ends alike.
    assert joint[2] == pytest.approx(0.3) and joint[3] == pytest.approx(0.04)
    assert joint[4] == "[0.030, 0.050]" and joint[8:11] == [0.05, "yes", "yes"]


def test_each_phase_shows_its_length_mix_and_metadata_setting():
    plain = {"name": "cpt", "mixture": {"general": {"share": 1.0}}}
    assert sequence_label(plain) == "concatenated windows of the context"
    assert metadata_label(plain) == "none (plain text)"
    decomposed = dict(
        plain,
        sequence={
            "mode": "decomposed",
            "lengths": {256: 1, 128: 1, 512: 2},
            "schedule": "cyclic",
            "cycles": 4,
        },
        metadata={"template": "{source} {domain}\n\n", "until": 0.9},
    )
    assert sequence_label(decomposed) == "decomposed, cyclic x4: 128 25%, 256 25%, 512 50%"
    assert (
        metadata_label(decomposed)
        == '"{source} {domain}\\n\\n" for the first 90% of the tokens, then plain'
    )


def test_the_joint_mixture_section_shows_the_check_pilot_and_the_correction(tmp_path):
    import yaml

    predicted = {"change": 0.05, "low": 0.04, "high": 0.06}
    record = {
        "rule": "predicted",
        "risk": "interval",
        "epsilon": 0.06,
        "shares": {"legal": 0.3},
        "predicted": {"change": 0.05, "low": 0.04, "high": 0.06},
        "check": {"tokens": 1e5, "predicted": predicted, "measured": 0.0321, "inside": False},
        "correction": {"offset": -0.0179, "shares_before": {"legal": 0.25}},
    }
    (tmp_path / "plan").mkdir()
    (tmp_path / "plan/fit.yaml").write_text(yaml.safe_dump({"joint mixture": record}))
    page = joint_mixture(RunData(tmp_path, {}, None))
    assert "Joint mixture" in page and "0.032" in page and "-0.018" in page
    assert "legal 0.250" in page and "legal 0.300" in page and "NO" in page
