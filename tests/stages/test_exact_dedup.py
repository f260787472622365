import pyarrow as pa
import pyarrow.parquet as pq

from stages.exact_dedup import run_exact_dedup
from stages.schema import WORK_SCHEMA
from stages.tasks import StageDirs


def work_file(path, rows):
    full = [dict({name: None for name in WORK_SCHEMA.names}, **row) for row in rows]
    pq.write_table(pa.Table.from_pylist(full, schema=WORK_SCHEMA), path)
    return path


def test_smallest_id_survives_across_files(tmp_path):
    a = work_file(tmp_path / "a.parquet", [{"id": "z", "text_hash": 1, "source": "s"}, {"id": "m", "text_hash": 2, "source": "s"}])
    b = work_file(tmp_path / "b.parquet", [{"id": "b", "text_hash": 1, "source": "s"}, {"id": "q", "text_hash": 3, "source": "s"}])
    out = tmp_path / "out"
    counters = run_exact_dedup(StageDirs(tmp_path, out, tmp_path / "removed", tmp_path / "scratch"))
    kept = pq.read_table(out).to_pylist()
    assert sorted(r["id"] for r in kept) == ["b", "m", "q"]
    assert {r["id"]: r["dup_cluster"] for r in kept} == {"b": "exact:b", "m": None, "q": None}
    removed = pq.read_table(tmp_path / "removed/stage=exact_dedup").to_pylist()
    assert [(r["id"], r["reason"], r["dup_cluster"]) for r in removed] == [("z", "duplicate", "exact:b")]
    assert counters == {"kept": 3, "removed:duplicate": 1}
