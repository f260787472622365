import pytest
import yaml

from trainer.config import ConfigError
from trainer.curriculum import load_curriculum, write_curriculum

EXAMPLE = """
version: 1
general_domain: general
phases:
  - name: cpt
    tokens: 2000000
    init: previous
    lr: {schedule: constant, peak: 3.0e-4, final: 3.0e-5, warmup_tokens: 20000, decay_fraction: 0.2}
    mixture:
      general: {share: 0.7, buckets: {high/long: 1.0, mid/long: 1.0}, chosen_by: {method: remainder}}
      legal:   {share: 0.3, buckets: {}, chosen_by: {method: cmr_law, cmr: 0.31, ci: [0.27, 0.35], lambda: 1000, epsilon: 0.05, binding: epsilon}}
"""


def test_round_trip(tmp_path):
    (tmp_path / "c.yaml").write_text(EXAMPLE)
    curriculum = load_curriculum(tmp_path / "c.yaml")
    assert curriculum.phases[0].mixture["legal"].chosen_by["ci"] == [0.27, 0.35]
    assert curriculum.phases[0].lr.peak == 3e-4
    write_curriculum(curriculum, tmp_path / "again.yaml")
    assert load_curriculum(tmp_path / "again.yaml") == curriculum


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["phases"][0]["mixture"]["legal"].update(share=0.5), "shares must be >= 0 and sum to 1"),
    (lambda d: d["phases"][0]["lr"].update(schedule="cosin"), "phases[0].lr.schedule: 'cosin' is not one of"),
    (lambda d: d["phases"][0].update(tokenz=5), "unknown config key 'phases[0].tokenz'"),
    (lambda d: d["phases"][0].update(tokens=0), "phases[0] (cpt).tokens"),
])
def test_errors_name_the_key(tmp_path, edit, message):
    data = yaml.safe_load(EXAMPLE)
    edit(data)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_curriculum(tmp_path / "c.yaml")
