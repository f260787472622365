import numpy as np
import pytest

from trainer.data import PhaseLoader, build_index, phase_buckets, realized_shares

from tests.trainer.conftest import two_domain_phase

SEQ = 32


def test_realized_token_shares_match_the_plan(tokens_dir, tmp_path):
    phase = two_domain_phase(tokens=20_000, legal=0.3, buckets={"high/long": 3.0, "mid/short": 1.0})
    buckets = phase_buckets(tokens_dir, phase)
    index = build_index(phase, buckets, 20_000 // SEQ, SEQ, seed=1, max_epochs=100, cache_dir=tmp_path)
    shares = realized_shares(index, buckets)
    assert shares["legal"] == pytest.approx(0.3, abs=0.01) and shares["general"] == pytest.approx(0.7, abs=0.01)
    per_bucket = np.bincount(index[:, 0]) / len(index)
    assert per_bucket[[b.key for b in buckets].index("high/long")] == pytest.approx(0.7 * 0.75, abs=0.01)
    # Interleaved, not blocked: every prefix of 100 samples is already near the plan.
    prefix = realized_shares(index[:100], buckets)
    assert prefix["legal"] == pytest.approx(0.3, abs=0.02)
    # Deterministic and cached by fingerprint.
    assert (build_index(phase, buckets, 20_000 // SEQ, SEQ, 1, 100, tmp_path) == index).all()
    assert len(list(tmp_path.glob("index-cpt-*.npy"))) == 1


def test_repetition_guard_warns_and_caps(tokens_dir):
    phase = two_domain_phase(legal=0.2)
    buckets = phase_buckets(tokens_dir, phase)
    small = [i for i, b in enumerate(buckets) if b.key == "mid/short"][0]
    windows = buckets[small].windows(SEQ)
    n_samples = int(2.5 * windows / buckets[small].weight)  # the bucket would need 2.5 epochs
    with pytest.warns(UserWarning) as caught:  # the excess moves to other buckets, which may hit the cap in turn
        index = build_index(phase, buckets, n_samples, SEQ, seed=0, max_epochs=2.0)
    assert any("general:mid/short would be repeated more than max_epochs=2.0" in str(w.message) for w in caught)
    drawn = index[index[:, 0] == small, 1]
    assert len(drawn) == 2 * windows
    assert np.bincount(drawn, minlength=windows).max() == 2  # each window at most twice
    assert len(index) == n_samples  # the excess went to the other buckets


def test_loader_returns_windows_of_the_bucket_files(tokens_dir):
    phase = two_domain_phase()
    buckets = phase_buckets(tokens_dir, phase)
    index = build_index(phase, buckets, 64, SEQ, seed=0, max_epochs=10)
    batch = PhaseLoader(index, buckets, SEQ).batch(8, 4)
    b, w = index[9]
    assert batch.shape == (4, SEQ + 1)
    assert (batch[1].numpy() == buckets[b].shard.tokens[w * SEQ:(w + 1) * SEQ + 1]).all()
