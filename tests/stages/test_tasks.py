import numpy as np
import pyarrow as pa

from stages.tasks import hash_range, range_start


def test_range_starts_split_sorted_hashes_as_hash_range_does():
    rng = np.random.default_rng(5)
    for ranges in (1, 3, 7, 64):
        starts = [range_start(r, ranges) for r in range(ranges)]
        edges = np.array(
            [s + d for s in starts[1:] for d in (-1, 0)], dtype=np.uint64
        )  # each side of each boundary
        hashes = np.sort(
            np.r_[rng.integers(0, 2**64, 5000, dtype=np.uint64, endpoint=False), edges]
        )
        bounds = np.r_[np.searchsorted(hashes, np.array(starts, dtype=np.uint64)), len(hashes)]
        assert np.array_equal(
            hash_range(pa.array(hashes), ranges), np.repeat(np.arange(ranges), np.diff(bounds))
        )


def test_a_task_peak_is_its_own_not_the_peak_of_tasks_before_it():
    """Measured against this process's own resident size, so what earlier tests left behind does not matter."""
    from stages.tasks import peak_rss, reset_peak_rss

    reset_peak_rss()
    base = peak_rss()
    big = np.ones(
        64 * 2**20, dtype=np.uint8
    )  # 64 MiB resident, freed to the system on del (a large mmap)
    assert peak_rss() >= base + 56 * 2**20
    del big
    reset_peak_rss()
    assert peak_rss() < base + 32 * 2**20


def test_memory_a_task_freed_goes_back_to_the_system_before_the_next_task():
    from stages.tasks import release_memory

    def resident() -> int:
        return next(
            int(line.split()[1]) * 1024
            for line in open("/proc/self/status")
            if line.startswith("VmRSS:")
        )

    release_memory()
    before = resident()
    tables = [
        pa.table({"text": ["word " * 40] * 20_000}).combine_chunks() for _ in range(30)
    ]  # ~120 MB
    assert resident() > before + 64 * 2**20
    del tables
    release_memory()
    assert resident() < before + 32 * 2**20
