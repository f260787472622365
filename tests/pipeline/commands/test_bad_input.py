"""Bad input is quarantined with a reason, never fatal, and never lost (issue: reliability)."""

import gzip
import json

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.cli import main

GOOD = "A perfectly ordinary document about rivers, mills and the people who lived beside them."


def jsonl(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def make_bad_corpus(root):
    (root / "jsonl").mkdir(parents=True)
    (root / "parquet").mkdir()
    (root / "text").mkdir()
    good = jsonl([{"text": f"{GOOD} {i}"} for i in range(300)])
    (root / "jsonl/mixed.jsonl").write_bytes(
        jsonl([{"text": GOOD}])
        + b'{"text": "caf\xe9 in latin-1"}\n'
        + b"not json at all\n"
        + jsonl([{"body": "no text field"}, {"text": 42}, {"text": ""}, {"text": "x" * 50_000_000}])
    )
    gz = gzip.compress(good)
    (root / "jsonl/truncated.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    zst = zstandard.ZstdCompressor().compress(good)
    (root / "jsonl/truncated.jsonl.zst").write_bytes(zst[: len(zst) // 2])
    (root / "jsonl/zero.jsonl").write_bytes(b"")
    (root / "jsonl/binary.jsonl").write_bytes(bytes(range(256)) * 8)
    pq.write_table(pa.table({"text": [GOOD]}), root / "parquet/good.parquet")
    (root / "parquet/corrupt.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 100)
    pq.write_table(pa.table({"content": [GOOD]}), root / "parquet/wrong_schema.parquet")
    (root / "text/latin1.txt").write_bytes("na\xefve caf\xe9".encode("latin-1"))
    (root / "text/empty.txt").write_bytes(b"")


@pytest.mark.slow
def test_every_bad_record_and_file_is_accounted_for(tmp_path, in_repo):
    make_bad_corpus(tmp_path / "in")
    run = tmp_path / "run"
    args = [
        "curate",
        "--run",
        str(run),
        "--config",
        "tests/data/tiny/config.yaml",
        "--set",
        "sources=[]",
        "--set",
        "curate.quality.enabled=false",  # no reference set among these files
        "--set",
        "curate.minhash.enabled=false",
    ]  # every good document here repeats one sentence
    for fmt in ("jsonl", "parquet", "text"):
        args += ["--source", f"{fmt}:general:{tmp_path}/in/{fmt}/*"]
    assert main([*args, "--set", "curate.normalize.max_chars=10000000"]) == 0
    counts = json.loads((run / "manifest.json").read_text())["counts"]
    assert all(c["in"] == c["kept"] + c["removed"] for c in counts.values())
    removed = (
        ds.dataset(run / "removed", partitioning="hive")
        .to_table(columns=["source", "stage", "reason"])
        .to_pylist()
    )
    reasons = {(r["source"], r["reason"].split(":")[0]) for r in removed}
    assert reasons >= {
        ("jsonl", "invalid_utf8"),
        ("jsonl", "invalid_json"),
        ("jsonl", "missing_text"),
        ("jsonl", "text_not_string"),
        ("jsonl", "empty"),
        ("jsonl", "too_long"),
        ("jsonl", "truncated_file"),
        ("jsonl", "empty_file"),
        ("parquet", "unreadable_file"),
        ("parquet", "wrong_schema"),
        ("text", "invalid_utf8"),
        ("text", "empty"),
    }
    truncated = [r for r in removed if r["reason"].startswith("truncated_file")]
    assert len(truncated) == 2  # the .gz and the .zst, each after keeping what could be read
    assert counts["jsonl"]["kept"] > 2  # the readable half of each truncated file survived
