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
    from stages.memory import peak_rss, reset_peak_rss

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
    from stages.memory import release_memory

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


def test_the_corpus_is_counted_once_per_stage_not_by_every_task(tmp_path, monkeypatch):
    """Every exact-dedup and boilerplate task needs the document count: one task reads the footers, once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stages import tasks as stage_tasks
    from stages.dedup import boilerplate, exact
    from stages.schema import WORK_SCHEMA
    from stages.tasks import StageDirs, run_inline

    inputs = tmp_path / "in"
    inputs.mkdir()
    for f in range(5):
        rows = [
            {
                "id": f"{f}-{i}",
                "text": f"line {i % 3}\nother {f}",
                "domain": "general",
                "text_hash": i % 3,
            }
            for i in range(4)
        ]
        pq.write_table(pa.Table.from_pylist(rows, schema=WORK_SCHEMA), inputs / f"part-{f}.parquet")
    footers = []
    real = stage_tasks.pq.read_metadata
    monkeypatch.setattr(
        stage_tasks.pq, "read_metadata", lambda path: footers.append(path) or real(path)
    )
    for name, phases in [
        ("exact", lambda dirs: exact.phases(dirs, exact.ExactDedupConfig(), 4)),
        ("boilerplate", lambda dirs: boilerplate.phases(dirs, boilerplate.BoilerplateConfig(), 4)),
    ]:
        footers.clear()
        dirs = StageDirs(
            inputs, tmp_path / f"{name}-out", tmp_path / "removed", tmp_path / f"{name}-tmp"
        )
        run_inline(phases(dirs))
        assert len(footers) == 5, name
