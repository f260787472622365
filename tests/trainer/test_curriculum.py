import pytest
import yaml

from core.errors import ConfigError
from trainer.curriculum import load_curriculum, write_curriculum

EXAMPLE = """
version: 1
general_domain: general
phases:
  - name: cpt
    tokens: 2000000
    init: previous
    lr: {schedule: constant, peak: 3.0e-4, final: 3.0e-5, warmup_tokens: 20000, decay_fraction: 0.2}
    sequence: {mode: decomposed, lengths: {256: 0.25, 512: 0.25, 1024: 0.5}, schedule: cyclic}
    metadata: {template: "{source} {domain}\\n\\n", until: 0.9}
    mixture:
      general: {share: 0.7, buckets: {high/long: 1.0, mid/long: 1.0}, chosen_by: {method: remainder}}
      legal:   {share: 0.3, buckets: {}, chosen_by: {method: cmr_law, cmr: 0.31, ci: [0.27, 0.35], lambda: 1000, epsilon: 0.05, binding: epsilon}}
"""


def test_round_trip(tmp_path):
    (tmp_path / "c.yaml").write_text(EXAMPLE)
    curriculum = load_curriculum(tmp_path / "c.yaml")
    assert curriculum.phases[0].mixture["legal"].chosen_by["ci"] == [0.27, 0.35]
    assert curriculum.phases[0].lr.peak == 3e-4
    assert curriculum.phases[0].sequence.lengths == {256: 0.25, 512: 0.25, 1024: 0.5}
    assert curriculum.phases[0].metadata.template == "{source} {domain}\n\n"
    write_curriculum(curriculum, tmp_path / "again.yaml")
    assert load_curriculum(tmp_path / "again.yaml") == curriculum


def test_phases_without_sequence_or_metadata_keep_plain_concatenated_windows(tmp_path):
    data = yaml.safe_load(EXAMPLE)
    del data["phases"][0]["sequence"], data["phases"][0]["metadata"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    phase = load_curriculum(tmp_path / "c.yaml").phases[0]
    assert phase.sequence.mode == "concat" and phase.metadata is None


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda d: d["phases"][0]["mixture"]["legal"].update(share=0.5),
            "shares must be >= 0 and sum to 1",
        ),
        (
            lambda d: d["phases"][0]["lr"].update(schedule="cosin"),
            "phases[0].lr.schedule: 'cosin' is not one of",
        ),
        (lambda d: d["phases"][0].update(tokenz=5), "unknown config key 'phases[0].tokenz'"),
        (lambda d: d["phases"][0].update(tokens=0), "phases[0] (cpt).tokens"),
        (
            lambda d: d["phases"][0]["sequence"]["lengths"].update({300: 1}),
            "sequence.lengths: give piece lengths that are",
        ),
        (
            lambda d: d["phases"][0]["sequence"].update(mode="concat"),
            "sequence.lengths: only mode: decomposed reads",
        ),
        (lambda d: d["phases"][0]["sequence"].update(schedule="cyclc"), "'cyclc' is not one of"),
        (
            lambda d: d["phases"][0]["metadata"].update(template="{site}"),
            "metadata.template: name only the fields",
        ),
        (
            lambda d: d["phases"][0]["metadata"].update(until=0),
            "metadata.until: the share of the phase",
        ),
    ],
)
def test_errors_name_the_key(tmp_path, edit, message):
    data = yaml.safe_load(EXAMPLE)
    edit(data)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        load_curriculum(tmp_path / "c.yaml")
