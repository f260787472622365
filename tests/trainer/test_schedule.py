import math

import pytest

from trainer.curriculum import LRSegment
from trainer.schedule import SCHEDULES, lr_at

PHASE = 10_000


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_warmup_rises_linearly_to_peak(schedule):
    seg = LRSegment(schedule=schedule, peak=1.0, final=0.1, warmup_tokens=1000)
    assert lr_at(seg, 0, PHASE) == 0.0
    assert lr_at(seg, 500, PHASE) == pytest.approx(0.5)
    assert lr_at(seg, 1000, PHASE) == pytest.approx(1.0)


def test_shapes_after_warmup():
    def at(schedule, t, **kw):
        return lr_at(
            LRSegment(schedule=schedule, peak=1.0, final=0.1, warmup_tokens=1000, **kw), t, PHASE
        )

    assert at("constant", PHASE) == 1.0
    assert at("cosine", 5500) == pytest.approx(0.55) and at("cosine", PHASE) == pytest.approx(0.1)
    assert at("linear", 5500) == pytest.approx(0.55) and at("linear", PHASE) == pytest.approx(0.1)
    # WSD: flat until the last 20% of the post-warmup span, then linear to final.
    assert at("wsd", 8200, decay_fraction=0.2) == pytest.approx(1.0)
    assert at("wsd", 9100, decay_fraction=0.2) == pytest.approx(0.55)
    assert at("wsd", PHASE, decay_fraction=0.2) == pytest.approx(0.1)
    assert at("inverse_sqrt", 4000) == pytest.approx(math.sqrt(1000 / 4000))
    assert at("inverse_sqrt", 10**9) == 0.1  # floored at final
    cosine = [at("cosine", t) for t in range(1000, PHASE + 1, 100)]
    assert all(a >= b for a, b in zip(cosine, cosine[1:]))


def test_rewarm_starts_from_previous_final_lr():
    seg = LRSegment(schedule="constant", peak=1.0, final=0.1, warmup_tokens=1000, rewarm=True)
    assert lr_at(seg, 0, PHASE, start_lr=0.3) == 0.3
    assert lr_at(seg, 500, PHASE, start_lr=0.3) == pytest.approx(0.65)
