import json

import pytest

import trainer.loop
from tests.trainer.conftest import CURRICULUM, tiny_config
from trainer.early_stop import left_tolerance
from trainer.loop import train

TOKENS = [0, 100, 200, 300, 400, 600, 800, 1000]


@pytest.mark.parametrize(
    "losses, expected",
    [
        ([3.0, 3.05, 3.1, 3.15, 3.2, 3.25, 3.3, 3.35], True),  # climbing late in the run
        ([3.0, 3.2, 3.3, 3.35, 3.3, 3.25, 3.2, 3.15], False),  # peaked and turned back
        ([3.0, 3.01, 3.02, 3.03, 3.04, 3.05, 3.06, 3.07], False),  # climbing, within the rise
    ],
)
def test_the_rule_stops_a_curve_that_left_the_rise_and_keeps_climbing(losses, expected):
    assert left_tolerance(TOKENS, losses, 0.1, 1000) is expected


def test_the_rule_waits_past_the_early_rise_and_never_fires_without_a_rise():
    climbing = [3.0 + 0.1 * i for i in range(len(TOKENS))]
    assert not left_tolerance(TOKENS[:4], climbing[:4], 0.1, 1000)  # its first of 3 before 1/4
    assert not left_tolerance(TOKENS, climbing, 0.0, 1000)


def test_a_run_the_rule_stops_ends_with_a_final_model_and_says_so(
    tokens_dir, tmp_path, monkeypatch
):
    calls = []

    def fires_at_the_third_evaluation(tokens, losses, rise, run_tokens):
        calls.append(len(tokens))
        return len(tokens) >= 3

    monkeypatch.setattr(trainer.loop, "left_tolerance", fires_at_the_third_evaluation)
    config = tiny_config(eval={"every_tokens": 512, "stop_rise": 0.1})
    final = train(config, CURRICULUM, tokens_dir, tmp_path / "run")
    assert final is not None and (final / "config.json").exists()
    records = [
        json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()
    ]
    evaluations = [r for r in records if r.get("val")]
    assert len(evaluations) == 3 and records[-1]["event"] == "early_stop"
    assert evaluations[-1]["tokens"] < sum(p.tokens for p in CURRICULUM.phases)
