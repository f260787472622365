import json
import random

import pyarrow as pa
import pyarrow.parquet as pq

from stages.dedup.boilerplate import BoilerplateConfig, run_boilerplate
from stages.ingest.normalize import text_hash
from stages.schema import WORK_SCHEMA
from stages.tasks import StageDirs

FOOTER = "Copyright the mailing list archive, all rights reserved."
HEADER = "Navigation: home | about | contact | subscribe today"


def work_file(path, rows):
    full = [
        dict(
            {name: None for name in WORK_SCHEMA.names},
            source="s",
            meta="{}",
            text_hash=text_hash(r["text"]),
            **r,
        )
        for r in rows
    ]
    pq.write_table(pa.Table.from_pylist(full, schema=WORK_SCHEMA), path)
    return path


def body(rng, i):
    return "\n".join(
        f"Document {i} line {j} says {rng.random():.6f} about the weather." for j in range(3)
    )


def corpus(tmp_path, order):
    rng = random.Random(0)
    rows = [{"id": f"doc{i:02d}", "text": f"{HEADER}\n{body(rng, i)}\n{FOOTER}"} for i in range(12)]
    rows.append({"id": "doc99", "text": f"{HEADER}\n{FOOTER}"})  # nothing but boilerplate
    rows.append(
        {"id": "doc50", "text": f"{HEADER}\nA rare line shared by two documents only.\nShort"}
    )
    rows.append({"id": "doc51", "text": "A rare line shared by two documents only.\nShort"})
    rows = [rows[i] for i in order(len(rows))]
    half = len(rows) // 2
    return [
        work_file(tmp_path / "a.parquet", rows[:half]),
        work_file(tmp_path / "b.parquet", rows[half:]),
    ]


def run(tmp_path, order, name, docs_per_range: int = 250_000):
    corpus(tmp_path, order)
    out = tmp_path / name
    dirs = StageDirs(tmp_path, out, tmp_path / f"removed-{name}", tmp_path / f"scratch-{name}")
    counters = run_boilerplate(
        dirs, BoilerplateConfig(enabled=True, min_docs=10, docs_per_range=docs_per_range)
    )
    kept = {r["id"]: r for r in pq.read_table(out).to_pylist()}
    removed = pq.read_table(tmp_path / f"removed-{name}" / "stage=boilerplate").to_pylist()
    return kept, removed, counters


def test_lines_in_many_documents_stay_only_in_the_smallest_id(tmp_path):
    kept, removed, counters = run(tmp_path, lambda n: range(n), "out")
    assert kept["doc00"]["text"].startswith(HEADER) and kept["doc00"]["text"].endswith(FOOTER)
    for doc_id in ("doc01", "doc11", "doc50"):
        assert HEADER not in kept[doc_id]["text"] and FOOTER not in kept[doc_id]["text"]
    assert (
        "A rare line" in kept["doc50"]["text"] and "A rare line" in kept["doc51"]["text"]
    )  # 2 docs < min_docs
    assert kept["doc51"]["text"].endswith("Short")
    changed = kept["doc01"]
    assert changed["text_hash"] == text_hash(changed["text"]) and changed["n_chars"] == len(
        changed["text"]
    )
    assert json.loads(changed["meta"])["boilerplate_units_stripped"] == 2
    assert [(r["id"], r["reason"], r["stage"]) for r in removed] == [
        ("doc99", "empty_after_strip", "boilerplate")
    ]
    assert (
        counters["kept"] + 1 == 15
        and counters["boilerplate_units"] == 2
        and counters["units_stripped"] == 2 * 11 + 2 + 1
    )


def test_output_does_not_depend_on_input_order(tmp_path):
    forward, _, _ = run(tmp_path, lambda n: range(n), "forward")
    shuffled, _, _ = run(tmp_path, lambda n: random.Random(7).sample(range(n), n), "shuffled")
    assert {k: v["text"] for k, v in forward.items()} == {k: v["text"] for k, v in shuffled.items()}


def test_many_unit_ranges_per_task_find_the_same_boilerplate(tmp_path):
    one = run(tmp_path, lambda n: range(n), "one-range-per-task")
    many = run(tmp_path, lambda n: range(n), "many", docs_per_range=2)
    assert (
        len(list((tmp_path / "scratch-many/units").iterdir())) > 2
    )  # 15 documents at 2 per range: 8 ranges, 2 tasks
    assert one == many


def test_paragraph_units_and_short_units_are_left_alone(tmp_path):
    rows = [{"id": f"d{i}", "text": f"Intro {i} is different.\n\n{FOOTER}\n\nok"} for i in range(4)]
    work_file(tmp_path / "a.parquet", rows)
    config = BoilerplateConfig(enabled=True, unit="paragraph", min_docs=3)
    run_boilerplate(
        StageDirs(tmp_path, tmp_path / "out", tmp_path / "removed", tmp_path / "scratch"), config
    )
    texts = {r["id"]: r["text"] for r in pq.read_table(tmp_path / "out").to_pylist()}
    assert texts["d0"] == f"Intro 0 is different.\n\n{FOOTER}\n\nok"
    assert (
        texts["d3"] == "Intro 3 is different.\n\nok"
    )  # "ok" is in every document but shorter than min_chars


def test_documents_outside_the_configured_domains_are_neither_counted_nor_stripped(tmp_path):
    rows = [
        {"id": f"p{i}", "domain": "general", "text": f"Prose {i} is here.\n{FOOTER}"}
        for i in range(3)
    ]
    rows += [{"id": f"c{i}", "domain": "code", "text": f"x = {i}\n{FOOTER}"} for i in range(3)]
    work_file(tmp_path / "a.parquet", rows)
    config = BoilerplateConfig(enabled=True, min_docs=3, domains=["general"])
    counters = run_boilerplate(
        StageDirs(tmp_path, tmp_path / "out", tmp_path / "removed", tmp_path / "scratch"), config
    )
    texts = {r["id"]: r["text"] for r in pq.read_table(tmp_path / "out").to_pylist()}
    assert (
        texts["p0"].endswith(FOOTER)
        and not texts["p2"].endswith(FOOTER)
        and texts["c2"].endswith(FOOTER)
    )
    assert counters["units_stripped"] == 2
