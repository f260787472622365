"""One large file read by several tasks: the pieces of a file give exactly the documents of reading it whole,
wherever the cuts fall (inside a record, between CR and LF, inside a multi-byte character)."""

import gzip
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stages.ingest import readers
from stages.ingest.readers import (
    Piece,
    SourceReader,
    SourceSpec,
    pieces,
    read_file,
    read_piece,
    unsplittable_files,
)


def spec(tmp_path, pattern):
    return SourceSpec(name="src", domain="d", paths=[pattern], root=str(tmp_path))


def awkward_jsonl(rng: random.Random, records: int) -> bytes:
    """Records without ids (their ids come from their line numbers), CRLF and LF endings, empty lines, broken
    JSON, multi-byte UTF-8, and a last line without a newline."""
    lines = []
    for i in range(records):
        roll = rng.random()
        if roll < 0.1:
            lines.append(b"")
        elif roll < 0.15:
            lines.append(b'{"text": "cut sho')
        else:
            text = " ".join(
                rng.choice(["é", "漢字", "😀", "word", "ß", "line"])
                for _ in range(rng.randint(1, 9))
            )
            lines.append(json.dumps({"text": f"{i} {text}"}, ensure_ascii=False).encode())
    endings = [rng.choice([b"\n", b"\r\n"]) for _ in lines]
    return b"".join(line + end for line, end in zip(lines, endings))[: -len(endings[-1])]


def as_tuples(docs):
    return [(d.id, d.text, json.dumps(d.metadata, sort_keys=True)) for d in docs]


def test_every_cut_position_gives_the_documents_of_the_whole_file(tmp_path):
    data = awkward_jsonl(random.Random(0), 40)
    path = tmp_path / "a.jsonl"
    path.write_bytes(data)
    source = spec(tmp_path, "a.jsonl")
    whole = as_tuples(read_file(source, path))
    assert len(whole) == data.count(b"\n") + 1
    for cut in range(1, len(data)):
        halves = [Piece(source, path, 0, cut), Piece(source, path, cut)]
        assert as_tuples(d for piece in halves for d in read_piece(piece)) == whole, cut


@pytest.mark.parametrize("tasks", [1, 2, 3, 7, 30])
def test_tasks_of_one_file_read_its_documents_once(tmp_path, monkeypatch, tasks):
    (tmp_path / "big.jsonl").write_bytes(awkward_jsonl(random.Random(1), 500))
    (tmp_path / "small.jsonl").write_bytes(b'{"text": "small"}\n')
    monkeypatch.setattr(readers, "MIN_PIECE_BYTES", 1)
    reader = SourceReader([spec(tmp_path, "*.jsonl")])
    one_task = as_tuples(reader.run(None, 0, 1))
    seen = [d for rank in range(tasks) for d in reader.run(None, rank, tasks)]
    assert sorted(as_tuples(seen)) == sorted(one_task)


def test_a_file_larger_than_a_tasks_share_is_cut_into_ranges_that_cover_it(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(awkward_jsonl(random.Random(2), 300))
    units = [(spec(tmp_path, "big.jsonl"), path)]
    cut = pieces(units, 4, min_bytes=1)
    assert [p.start for p in cut] == [path.stat().st_size * i // 4 for i in range(4)]
    assert [p.end for p in cut] == [p.start for p in cut[1:]] + [None]
    assert (
        len(pieces(units, 4, min_bytes=path.stat().st_size)) == 1
    )  # too small to be worth cutting


def test_compressed_jsonl_is_read_whole_and_named(tmp_path, monkeypatch):
    (tmp_path / "big.jsonl.gz").write_bytes(gzip.compress(awkward_jsonl(random.Random(3), 300)))
    (tmp_path / "other.jsonl").write_bytes(awkward_jsonl(random.Random(4), 50))
    source = spec(tmp_path, "*.jsonl*")
    cut = pieces([(source, p) for p in source.files()], 4, min_bytes=1)
    assert [p for p in cut if p.path.name == "big.jsonl.gz"] == [
        Piece(source, tmp_path / "big.jsonl.gz")
    ]
    assert unsplittable_files([source], 4, min_bytes=1) == [tmp_path / "big.jsonl.gz"]
    assert unsplittable_files([source], 1, min_bytes=1) == []


@pytest.mark.parametrize("tasks", [2, 3, 5])
def test_parquet_is_cut_by_row_groups(tmp_path, monkeypatch, tasks):
    rows = [{"text": f"row {i} é", "n": i} for i in range(50)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "x.parquet", row_group_size=7)
    source = spec(tmp_path, "x.parquet")
    cut = pieces([(source, tmp_path / "x.parquet")], tasks, min_bytes=1)
    assert len(cut) == tasks and cut[0].start == 0 and cut[-1].end is None
    whole = as_tuples(read_file(source, tmp_path / "x.parquet"))
    assert as_tuples(d for piece in cut for d in read_piece(piece)) == whole
    assert [json.loads(t[2])["origin"]["offset"] for t in whole] == list(range(50))


@pytest.mark.slow
def test_one_file_curated_by_three_tasks_gives_the_output_of_one(tmp_path, in_repo, monkeypatch):
    """Three ingest tasks on one file, each reading a byte range: the same shards, removed documents and counts."""
    from tests.conftest import curate_tiny, tree_checksums
    from tests.curate_process import WORDS

    rng = random.Random(5)
    lines = [
        json.dumps({"text": " ".join(rng.choices(WORDS, k=rng.randint(40, 200)))})
        for _ in range(600)
    ]
    corpus = tmp_path / "one.jsonl"
    corpus.write_text("\n".join(lines[:300] + [""] + lines[:20] + lines[300:]) + "\n")
    monkeypatch.setattr(readers, "MIN_PIECE_BYTES", 1)
    runs = {}
    for tasks in (1, 3):
        run = runs[tasks] = tmp_path / f"tasks{tasks}"
        options = [
            "--set",
            "sources=[]",
            "--source",
            f"stories:general:{corpus}",
            "--tasks",
            str(tasks),
        ]
        assert curate_tiny(run, *options) == 0
    assert len({p.name.split("-")[1] for p in (runs[3] / "work/ingest").glob("*.parquet")}) == 3
    assert tree_checksums(runs[1] / "shards") == tree_checksums(runs[3] / "shards")
    # removed/ is written per work file, whose names follow the tasks: the same rows, in other files
    removed = [
        sorted(
            (row["id"], row["stage"], row["reason"], row["meta"])
            for path in (runs[t] / "removed").glob("*/*.parquet")
            for row in pq.read_table(path).to_pylist()
        )
        for t in (1, 3)
    ]
    assert removed[0] == removed[1] and len(removed[0]) > 20
    counts = [json.loads((runs[t] / "manifest.json").read_text())["counts"] for t in (1, 3)]
    assert counts[0] == counts[1] and counts[0]["stories"]["kept"] > 0


@pytest.mark.slow
def test_a_large_compressed_file_is_named_in_a_warning(tmp_path, in_repo, monkeypatch, capsys):
    from pipeline.cli import main
    from tests.conftest import TINY_CONFIG

    corpus = tmp_path / "big.jsonl.gz"
    corpus.write_bytes(gzip.compress(awkward_jsonl(random.Random(6), 200)))
    monkeypatch.setattr(readers, "MIN_PIECE_BYTES", 1)
    options = ["--set", "sources=[]", "--source", f"big:general:{corpus}", "--tasks", "3"]
    options += ["--set", "curate.quality.enabled=false"]
    assert (
        main(["curate", "--config", str(TINY_CONFIG), "--run", str(tmp_path / "run"), *options])
        == 0
    )
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("warning") and "one task" in line]
    assert len(warnings) == 1 and str(corpus) in warnings[0]
