import numpy as np
import pytest

from trainer.data.loader import PhaseLoader, Sampling, phase_buckets, realized_shares
from trainer.data.index import build_index

from tests.trainer.conftest import two_domain_phase

SEQ = 32


def sampling(seed=0, max_epochs=100.0, batch=1) -> Sampling:
    return Sampling(seq_len=SEQ, global_batch=batch, seed=seed, max_epochs=max_epochs)


def test_realized_token_shares_match_the_plan(tokens_dir, tmp_path):
    phase = two_domain_phase(tokens=20_000, legal=0.3, buckets={"high/long": 3.0, "mid/short": 1.0})
    buckets = phase_buckets(tokens_dir, phase)
    index = build_index(phase, buckets, 20_000 // SEQ, sampling(seed=1), cache_dir=tmp_path)
    shares = realized_shares(index.rows, buckets)
    assert shares["legal"] == pytest.approx(0.3, abs=0.01) and shares["general"] == pytest.approx(0.7, abs=0.01)
    per_bucket = np.bincount(index.rows[:, 0]) / len(index)
    assert per_bucket[[b.key for b in buckets].index("high/long")] == pytest.approx(0.7 * 0.75, abs=0.01)
    # Interleaved, not blocked: every prefix of 100 samples is already near the plan.
    prefix = realized_shares(index.rows[:100], buckets)
    assert prefix["legal"] == pytest.approx(0.3, abs=0.02)
    # Deterministic and cached by fingerprint.
    assert (build_index(phase, buckets, 20_000 // SEQ, sampling(seed=1), tmp_path).rows == index.rows).all()
    assert len(list(tmp_path.glob("index-cpt-*.npz"))) == 1


def test_repetition_guard_warns_and_caps(tokens_dir):
    phase = two_domain_phase(legal=0.2)
    buckets = phase_buckets(tokens_dir, phase)
    small = [i for i, b in enumerate(buckets) if b.key == "mid/short"][0]
    windows = buckets[small].windows(SEQ)
    n_samples = int(2.5 * windows / buckets[small].weight)  # the bucket would need 2.5 epochs
    with pytest.warns(UserWarning) as caught:  # the excess moves to other buckets, which may hit the cap in turn
        index = build_index(phase, buckets, n_samples, sampling(max_epochs=2.0))
    assert any("general:mid/short would be repeated more than max_epochs=2.0" in str(w.message) for w in caught)
    drawn = index.rows[index.rows[:, 0] == small, 1] // SEQ
    assert len(drawn) == 2 * windows
    assert np.bincount(drawn, minlength=windows).max() == 2  # each window at most twice
    assert len(index) == n_samples  # the excess went to the other buckets


def test_loader_returns_windows_of_the_bucket_files(tokens_dir):
    phase = two_domain_phase()
    buckets = phase_buckets(tokens_dir, phase)
    index = build_index(phase, buckets, 16, sampling(max_epochs=10, batch=8))
    inputs, targets = PhaseLoader(index, buckets).micro_batch(1, 1, 2)  # step 1's second half: samples 12..15
    b, start, _ = index.rows[13]
    assert inputs.shape == targets.shape == (4, SEQ)
    window = buckets[b].shard.tokens[start:start + SEQ + 1]
    assert (inputs[1].numpy() == window[:-1]).all() and (targets[1].numpy() == window[1:]).all()
