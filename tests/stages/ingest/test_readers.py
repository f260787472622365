import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from stages.base import is_removed
from stages.ingest.readers import SourceReader, SourceSpec, read_file, stable_id

RECORDS = [{"id": "a", "text": "alpha"}, {"text": "beta", "lang_hint": "en"}]


def jsonl_bytes(records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def spec(tmp_path, pattern, fmt="auto"):
    return SourceSpec(name="src", domain="d", paths=[pattern], format=fmt, root=str(tmp_path))


def texts_and_ids(docs):
    return [(d.text, d.id) for d in docs]


def test_jsonl_plain_gz_zst_read_alike(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(RECORDS))
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(RECORDS)))
    (tmp_path / "c.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress(jsonl_bytes(RECORDS))
    )
    for name in ("a.jsonl", "b.jsonl.gz", "c.jsonl.zst"):
        docs = list(read_file(spec(tmp_path, name, "jsonl"), tmp_path / name))
        assert [d.text for d in docs] == ["alpha", "beta"]
        assert docs[0].id == "a"  # a carried id is kept
        assert docs[1].id == stable_id("src", name, 1)  # otherwise a hash of source + position
        assert docs[1].metadata["meta"] == {"lang_hint": "en"}
        assert docs[1].metadata["origin"] == {"file": name, "offset": 1}


def test_parquet_and_text_files(tmp_path):
    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "x.parquet")
    (tmp_path / "doc.txt").write_text("one document per file")
    assert [d.text for d in read_file(spec(tmp_path, "*"), tmp_path / "x.parquet")] == [
        "alpha",
        "beta",
    ]
    docs = list(read_file(spec(tmp_path, "*"), tmp_path / "doc.txt"))
    assert texts_and_ids(docs) == [("one document per file", stable_id("src", "doc.txt", 0))]


def test_bad_records_are_marked_not_lost(tmp_path):
    lines = b'{"text": "ok"}\nnot json\n{"text": 3}\n{"other": 1}\n[1, 2]\n'
    (tmp_path / "bad.jsonl").write_bytes(lines)
    docs = list(read_file(spec(tmp_path, "bad.jsonl"), tmp_path / "bad.jsonl"))
    reasons = [d.metadata.get("removed", {}).get("reason") for d in docs]
    assert reasons == [None, "invalid_json", "text_not_string", "missing_text", "not_an_object"]


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    data = gzip.compress(jsonl_bytes([{"text": f"doc {i}"} for i in range(2000)]))
    (tmp_path / "t.jsonl.gz").write_bytes(data[: len(data) // 2])
    docs = list(read_file(spec(tmp_path, "t.jsonl.gz"), tmp_path / "t.jsonl.gz"))
    assert is_removed(docs[-1]) and docs[-1].metadata["removed"]["reason"].startswith(
        "truncated_file"
    )
    assert all(not is_removed(d) for d in docs[:-1]) and len(docs) > 1


def test_ranks_partition_the_files(tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.jsonl").write_bytes(jsonl_bytes([{"text": f"file {i}"}]))
    reader = SourceReader([spec(tmp_path, "*.jsonl")])
    seen = [d.text for rank in range(2) for d in reader.run(None, rank, 2)]
    assert sorted(seen) == [f"file {i}" for i in range(5)]


def test_a_records_own_meta_object_is_not_nested(tmp_path):
    (tmp_path / "m.jsonl").write_bytes(
        jsonl_bytes([{"text": "t", "meta": {"label": "ham"}, "group": 3}])
    )
    (doc,) = read_file(spec(tmp_path, "m.jsonl"), tmp_path / "m.jsonl")
    assert doc.metadata["meta"] == {"label": "ham", "group": 3}


def reasons_of(docs):
    return [d.metadata.get("removed", {}).get("reason") for d in docs]


def test_one_unusable_record_is_removed_and_the_file_reads_on(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    unusable = [
        b'{"text": ' + deep + b"}",  # deeper than the recursion limit
        b'{"text": "n", "size": ' + b"9" * 5000 + b"}",  # an integer too long to convert
        b'{"text": "\\ud800 lone surrogate"}',
        b'{"text": "ok", "meta": {"deep": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}}",
        b'{"text": "ok", "id": "\\udfff"}',
    ]
    good = [json.dumps({"text": f"doc {i}"}).encode() for i in range(16)]
    (tmp_path / "mixed.jsonl").write_bytes(b"\n".join(good[:1] + unusable + good[1:]) + b"\n")
    docs = list(read_file(spec(tmp_path, "mixed.jsonl"), tmp_path / "mixed.jsonl"))
    assert len(docs) == 21
    assert [d.metadata["origin"]["offset"] for d in docs] == list(range(21))
    removed = [d for d in docs if is_removed(d)]
    assert [d.metadata["origin"]["offset"] for d in removed] == [1, 2, 3, 4, 5]
    assert all(r.startswith("unusable_record:") for r in reasons_of(removed))
    assert [d.text for d in docs if not is_removed(d)] == [f"doc {i}" for i in range(16)]


def test_an_unreadable_file_keeps_the_records_read_before_it(tmp_path):
    data = zstandard.ZstdCompressor().compress(
        jsonl_bytes([{"text": f"doc {i}"} for i in range(3000)])
    )
    cut = bytearray(data)
    cut[len(cut) // 2 :] = b"\xff" * (len(cut) - len(cut) // 2)
    (tmp_path / "c.jsonl.zst").write_bytes(bytes(cut))
    docs = list(read_file(spec(tmp_path, "c.jsonl.zst"), tmp_path / "c.jsonl.zst"))
    assert is_removed(docs[-1]) and not any(is_removed(d) for d in docs[:-1])
    assert docs[-1].metadata["origin"]["offset"] == len(docs) - 1
