import pyarrow as pa
import pyarrow.parquet as pq

from stages.dedup.exact import run_exact_dedup
from stages.schema import WORK_SCHEMA
from stages.tasks import StageDirs


def work_file(path, rows):
    full = [dict({name: None for name in WORK_SCHEMA.names}, **row) for row in rows]
    pq.write_table(pa.Table.from_pylist(full, schema=WORK_SCHEMA), path)
    return path


def test_smallest_id_survives_across_files(tmp_path):
    work_file(
        tmp_path / "a.parquet",
        [{"id": "z", "text_hash": 1, "source": "s"}, {"id": "m", "text_hash": 2, "source": "s"}],
    )
    work_file(
        tmp_path / "b.parquet",
        [{"id": "b", "text_hash": 1, "source": "s"}, {"id": "q", "text_hash": 3, "source": "s"}],
    )
    out = tmp_path / "out"
    counters = run_exact_dedup(StageDirs(tmp_path, out, tmp_path / "removed", tmp_path / "scratch"))
    kept = pq.read_table(out).to_pylist()
    assert sorted(r["id"] for r in kept) == ["b", "m", "q"]
    assert {r["id"]: r["dup_cluster"] for r in kept} == {"b": "exact:b", "m": None, "q": None}
    removed = pq.read_table(tmp_path / "removed/stage=exact_dedup").to_pylist()
    assert [(r["id"], r["reason"], r["dup_cluster"]) for r in removed] == [
        ("z", "duplicate", "exact:b")
    ]
    assert counters == {"kept": 3, "removed:duplicate": 1}


def test_many_hash_ranges_per_task_find_the_same_groups(tmp_path):
    """A corpus larger than ``docs_per_range`` per task splits into more ranges than tasks; nothing else changes."""
    import numpy as np

    from stages.dedup.exact import ExactDedupConfig

    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**64, 60, dtype=np.uint64, endpoint=False)
    (tmp_path / "in").mkdir()
    for f in range(5):
        picks = rng.choice(hashes, 40)  # copies within and across files
        work_file(
            tmp_path / "in" / f"f{f}.parquet",
            [
                {"id": f"d{f}-{i:03d}", "text_hash": int(h), "source": "s"}
                for i, h in enumerate(picks)
            ],
        )
    outputs = []
    for docs_per_range in (10**6, 7):
        root = tmp_path / f"per-range-{docs_per_range}"
        counters = run_exact_dedup(
            StageDirs(tmp_path / "in", root / "out", root / "removed", root / "scratch"),
            tasks=2,
            config=ExactDedupConfig(docs_per_range=docs_per_range),
        )
        ranges = {p.name for p in (root / "scratch/keys").iterdir()}
        outputs.append(
            (
                counters,
                pq.read_table(root / "out").sort_by("id"),
                pq.read_table(root / "removed/stage=exact_dedup").sort_by("id"),
            )
        )
    assert (
        len(ranges) > 15
    )  # 200 documents at 7 per range: 29 ranges over 2 tasks, of which 60 hashes fill most
    assert outputs[0][0] == outputs[1][0] and outputs[0][0]["removed:duplicate"] > 100
    assert outputs[0][1].equals(outputs[1][1]) and outputs[0][2].equals(outputs[1][2])
