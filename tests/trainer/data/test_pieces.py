"""Decomposed sequences: shares of domains, buckets and lengths as planned, constant tokens per step,
pieces inside their documents, and the three length schedules."""
import numpy as np
import pytest

from trainer.curriculum import SequenceSpec
from trainer.data.loader import Sampling, phase_buckets, realized_lengths, realized_shares
from trainer.data.index import build_index
from trainer.data.pieces import step_lengths

from tests.trainer.conftest import two_domain_phase

SEQ = 32
LENGTHS = {8: 0.2, 16: 0.3, 32: 0.5}


def decomposed_phase(schedule="fixed", tokens=40_000, **kwargs):
    phase = two_domain_phase(tokens=tokens, legal=0.3, buckets={"high/long": 3.0, "mid/short": 1.0}, **kwargs)
    phase.sequence = SequenceSpec(mode="decomposed", lengths=LENGTHS, schedule=schedule, cycles=4)
    return phase


def test_shares_of_domains_buckets_and_lengths_hold_with_constant_tokens_per_step(tokens_dir, tmp_path):
    phase = decomposed_phase()
    buckets = phase_buckets(tokens_dir, phase)
    sampling = Sampling(seq_len=SEQ, global_batch=4, seed=1, max_epochs=100)
    index = build_index(phase, buckets, 40_000 // sampling.step_tokens, sampling, tmp_path)
    rows = index.rows
    shares = realized_shares(rows, buckets)
    assert shares["legal"] == pytest.approx(0.3, abs=0.01) and shares["general"] == pytest.approx(0.7, abs=0.01)
    tokens = np.bincount(rows[:, 0], weights=rows[:, 2]) / rows[:, 2].sum()
    assert tokens[[b.key for b in buckets].index("high/long")] == pytest.approx(0.7 * 0.75, abs=0.01)
    assert realized_lengths(rows) == pytest.approx(LENGTHS, abs=0.01)
    for step in range(len(index)):
        step_rows = rows[index.step_starts[step]:index.step_starts[step + 1]]
        assert len(set(step_rows[:, 2])) == 1 and step_rows[:, 2].sum() == sampling.step_tokens
    for b, bucket in enumerate(buckets):  # every sample lies inside one document: n + 1 tokens from its start
        starts, lengths = rows[rows[:, 0] == b, 1], rows[rows[:, 0] == b, 2]
        documents = np.searchsorted(bucket.shard.offsets, starts, side="right") - 1
        assert (starts + lengths + 1 <= bucket.shard.offsets[documents + 1]).all()
    again = build_index(phase, buckets, 40_000 // sampling.step_tokens, sampling)
    assert (again.rows == rows).all() and (again.step_starts == index.step_starts).all()


def test_a_bucket_short_of_pieces_of_one_length_gives_more_of_another_and_the_shares_still_hold(tokens_dir):
    """Every document has at most one piece of 16 tokens: at 3/4 of general, mid/short cannot give its
    share of the 16-token half within the repetition guard, so it gives more 32-token pieces instead."""
    phase = decomposed_phase(tokens=100_000)
    phase.sequence.lengths = {16: 0.5, 32: 0.5}
    phase.mixture["general"].buckets = {"high/long": 1.0, "mid/short": 3.0}
    buckets = phase_buckets(tokens_dir, phase)
    short = [b.key for b in buckets].index("mid/short")
    sampling = Sampling(seq_len=SEQ, global_batch=4, seed=0, max_epochs=50)
    rows = build_index(phase, buckets, 100_000 // sampling.step_tokens, sampling).rows
    assert realized_shares(rows, buckets)["general"] == pytest.approx(0.7, abs=0.01)
    assert realized_lengths(rows) == pytest.approx({16: 0.5, 32: 0.5}, abs=0.01)
    tokens = np.bincount(rows[:, 0], weights=rows[:, 2]) / rows[:, 2].sum()
    assert tokens[short] == pytest.approx(0.7 * 0.75, abs=0.01)
    of_16 = rows[(rows[:, 0] == short) & (rows[:, 2] == 16)]
    assert len(of_16) <= 50 * len(buckets[short].shard.pieces(16))  # the guard holds
    assert 16 * len(of_16) < 0.7 * 0.75 * 0.5 * rows[:, 2].sum() - 1000  # well under its naive share of the 16s


@pytest.mark.parametrize("schedule", ["fixed", "short_to_long", "cyclic"])
def test_schedules_keep_the_length_shares_and_order_the_steps(schedule):
    per_step = step_lengths(SequenceSpec(mode="decomposed", lengths=LENGTHS, schedule=schedule, cycles=4), 200)
    assert {n: (per_step == n).mean() for n in LENGTHS} == pytest.approx(LENGTHS, abs=0.005)
    falls = int((np.diff(per_step) < 0).sum())  # a shorter step after a longer one starts a new pass
    if schedule == "short_to_long":
        assert falls == 0
    elif schedule == "cyclic":
        assert falls == 3
        for cycle in np.split(per_step, np.flatnonzero(np.diff(per_step) < 0) + 1):
            assert {n: (cycle == n).mean() for n in LENGTHS} == pytest.approx(LENGTHS, abs=0.03)
    else:  # interleaved: the first tenth already has every length near its share
        assert {n: (per_step[:20] == n).mean() for n in LENGTHS} == pytest.approx(LENGTHS, abs=0.06)
