"""Hostile input files, generated: every record of every file is one Document, kept or removed, and no
exception escapes the reader. `--hypothesis-show-statistics` prints how many files were generated."""

import gzip
import json
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from stages.base import is_removed
from stages.ingest.readers import SourceSpec, read_file
from stages.schema import SHARD_SCHEMA, document_row

# Hypothesis caches what it learns under its home directory; tests write nothing into the repository.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="hypothesis-"))
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# JSON values with lone surrogates in strings and keys, integers beyond 64 bits and floats of every kind.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_categories=[])),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(st.sampled_from(["text", "id", "meta", "n"]), json_values, max_size=4)


def deep_line(depth: int, opener: bytes) -> bytes:
    closer = {b"[": b"]", b'{"a":': b"}"}[opener]
    return b'{"text": "t", "meta": ' + opener * depth + b"1" + closer * depth + b"}"


jsonl_lines = st.lists(
    records.map(lambda r: json.dumps(r).encode())
    | st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b" "))
    | st.builds(deep_line, st.integers(1, 150_000), st.sampled_from([b"[", b'{"a":']))
    | st.integers(4000, 6000).map(lambda digits: b'{"text": "t", "n": ' + b"7" * digits + b"}"),
    max_size=12,
)
COMPRESS = {
    ".jsonl": lambda data: data,
    ".jsonl.gz": gzip.compress,
    ".jsonl.zst": zstandard.ZstdCompressor().compress,
}


def assert_each_record_accounted(
    tmp_path, name: str, data: bytes, cut: float | None, n_records: int
):
    """One Document per record (an empty file is one removed Document), or, for a file cut short, the
    records before the cut and one removed Document for the rest; every kept one can become a shard row."""
    path = tmp_path / name
    path.write_bytes(data if cut is None else data[: int(len(data) * cut)])
    docs = list(read_file(SourceSpec(name="s", domain="d", paths=[name], root=str(tmp_path)), path))
    kept = [d for d in docs if not is_removed(d)]
    if cut is None:
        assert len(docs) == max(n_records, 1)
    else:
        assert 1 <= len(docs) <= n_records + 1
    assert [d.metadata["origin"]["offset"] for d in docs] == list(range(len(docs)))
    pa.Table.from_pylist([document_row(d) for d in kept], schema=SHARD_SCHEMA)
    for doc in kept:
        document_row(doc)["meta"].encode("utf-8")


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
@FUZZ
@given(lines=jsonl_lines, cut=st.none() | st.floats(0.0, 0.99))
def test_jsonl_files_lose_no_record(tmp_path_factory, suffix, lines, cut):
    data = COMPRESS[suffix](b"".join(line + b"\n" for line in lines))
    assert_each_record_accounted(tmp_path_factory.mktemp("f"), "f" + suffix, data, cut, len(lines))


parquet_columns = st.sampled_from(
    [
        st.integers(-(2**63), 2**63 - 1),
        st.lists(st.floats(), max_size=3),
        st.fixed_dictionaries(
            {"k": st.text(max_size=5), "v": st.lists(st.integers(0, 9), max_size=3)}
        ),
        st.binary(max_size=10),
    ]
)


@FUZZ
@given(data=st.data(), cut=st.none() | st.floats(0.0, 0.99))
def test_parquet_files_lose_no_record(tmp_path_factory, data, cut):
    n = data.draw(st.integers(0, 8))
    texts = data.draw(st.lists(st.none() | st.text(max_size=20), min_size=n, max_size=n))
    extra = data.draw(st.lists(data.draw(parquet_columns), min_size=n, max_size=n))
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"text": pa.array(texts, pa.string()), "extra": pa.array(extra)}), sink)
    assert_each_record_accounted(
        tmp_path_factory.mktemp("p"), "p.parquet", sink.getvalue().to_pybytes(), cut, n
    )
