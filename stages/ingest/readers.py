"""Reading sources into Documents: JSONL (plain, .gz, .zst), Parquet, text files.

Every record read becomes exactly one Document, including records that cannot be used (broken
JSON, missing text, nesting past Python's recursion limit, a number too long to convert, a lone
surrogate): those come out already marked removed by stage ``read``, and the file goes on, so
that the per-source count check holds. A file that cannot be read on is one more removed
Document after the records read before it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from stages.base import mark_removed


@dataclass
class SourceSpec:
    """One input source as declared in the config's ``sources:`` list."""

    name: str
    domain: str
    paths: list[str]
    format: str = "auto"
    text_key: str = "text"
    id_key: str = "id"
    root: str = field(default=".", repr=False)

    def files(self) -> list[Path]:
        """The source's files, sorted so that every run sees them in the same order."""
        base = Path(self.root)
        found: set[Path] = set()
        for pattern in self.paths:
            pattern_path = Path(pattern)
            if pattern_path.is_absolute():
                found.update(
                    Path(pattern_path.anchor).glob(
                        str(pattern_path.relative_to(pattern_path.anchor))
                    )
                )
            else:
                found.update(base.glob(pattern))
        return sorted(p for p in found if p.is_file())


def stable_id(source: str, file_key: str, offset: int) -> str:
    return xxhash.xxh64_hexdigest(f"{source}\0{file_key}\0{offset}")


def file_format(spec: SourceSpec, path: Path) -> str:
    if spec.format != "auto":
        return spec.format
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes:
        return "parquet"
    if ".jsonl" in suffixes or ".json" in suffixes or ".ndjson" in suffixes:
        return "jsonl"
    return "text"


def _zstd_lines(path: Path) -> Iterator[bytes]:
    """Lines of a .zst file; a file cut short raises EOFError, as gzip does."""
    import zstandard

    decompressor = zstandard.ZstdDecompressor().decompressobj()
    pending = b""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            *lines, pending = (pending + decompressor.decompress(chunk)).split(b"\n")
            yield from (line + b"\n" for line in lines)
    if not decompressor.eof:
        raise EOFError("zstd stream ends before its frame does")
    if pending:
        yield pending


def _binary_lines(path: Path) -> Iterator[bytes]:
    if path.suffix == ".zst":
        yield from _zstd_lines(path)
        return
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
        yield from handle


def _removed_doc(spec: SourceSpec, file_key: str, offset: int, reason: str) -> Document:
    doc = Document(text="", id=stable_id(spec.name, file_key, offset))
    mark_removed(doc, "read", reason)
    return doc


# What one record can raise on its way to a Document (RecursionError: nesting deeper than the interpreter's
# limit; ValueError: an integer of more than 4,300 digits; UnicodeEncodeError: a lone surrogate). Each is
# that record's fault alone, so it is removed and the file reads on.
RECORD_ERRORS = (RecursionError, ValueError, TypeError)


def _record_document(spec: SourceSpec, file_key: str, offset: int, record) -> Document:
    """A Document from one parsed record, or a removed one saying what was wrong."""
    try:
        return _usable_document(spec, file_key, offset, record)
    except RECORD_ERRORS as err:
        return _removed_doc(spec, file_key, offset, f"unusable_record:{type(err).__name__}")


def _usable_document(spec: SourceSpec, file_key: str, offset: int, record) -> Document:
    if not isinstance(record, dict):
        return _removed_doc(spec, file_key, offset, "not_an_object")
    doc = Document(text="", id=stable_id(spec.name, file_key, offset))
    text = record.get(spec.text_key)
    carried_id = record.get(spec.id_key)
    if carried_id is not None:
        doc.id = str(carried_id)
    if not isinstance(text, str):
        mark_removed(doc, "read", "missing_text" if text is None else "text_not_string")
        return doc
    doc.text = text
    # A record's own "meta" object is the document's meta; its other fields join it.
    meta = dict(record["meta"]) if isinstance(record.get("meta"), dict) else {}
    meta.update((k, v) for k, v in record.items() if k not in (spec.text_key, spec.id_key, "meta"))
    doc.metadata["meta"] = meta
    # Shards store text, id and meta as UTF-8 JSON: a record that cannot be written must fail here, alone.
    json.dumps([doc.text, doc.id, meta], ensure_ascii=False, default=str).encode("utf-8")
    return doc


def _line_document(spec: SourceSpec, file_key: str, offset: int, line: bytes) -> Document:
    """The Document of one JSONL line."""
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return _removed_doc(spec, file_key, offset, "invalid_utf8")
    except json.JSONDecodeError:
        return _removed_doc(spec, file_key, offset, "invalid_json")
    except RECORD_ERRORS as err:
        return _removed_doc(spec, file_key, offset, f"unusable_record:{type(err).__name__}")
    return _record_document(spec, file_key, offset, record)


def _read_jsonl(spec: SourceSpec, path: Path, file_key: str) -> Iterator[Document]:
    offset = -1
    try:
        for offset, line in enumerate(_binary_lines(path)):
            yield _line_document(spec, file_key, offset, line)
    except (EOFError, OSError, ValueError) as err:
        # The rest of the file is unreadable: account for it as one removed document.
        yield _removed_doc(spec, file_key, offset + 1, f"truncated_file:{type(err).__name__}")
        return
    if offset == -1:
        yield _removed_doc(spec, file_key, 0, "empty_file")


def _read_parquet(spec: SourceSpec, path: Path, file_key: str) -> Iterator[Document]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if spec.text_key not in parquet.schema_arrow.names:
        yield _removed_doc(spec, file_key, 0, f"wrong_schema:no column '{spec.text_key}'")
        return
    offset = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            yield _record_document(spec, file_key, offset, record)
            offset += 1
    if offset == 0:
        yield _removed_doc(spec, file_key, 0, "empty_file")


def _read_text(spec: SourceSpec, path: Path, file_key: str) -> Iterator[Document]:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        yield _removed_doc(spec, file_key, 0, "invalid_utf8")
        return
    yield Document(text=text, id=stable_id(spec.name, file_key, 0))


READERS = {"jsonl": _read_jsonl, "parquet": _read_parquet, "text": _read_text}


def read_file(spec: SourceSpec, path: Path) -> Iterator[Document]:
    """All documents of one file, tagged with source, domain and where they came from."""
    file_key = str(path.relative_to(spec.root)) if path.is_relative_to(spec.root) else str(path)
    reader = READERS[file_format(spec, path)]
    offset = 0
    try:
        for doc in reader(spec, path, file_key):
            doc.metadata.update(
                source=spec.name, domain=spec.domain, origin={"file": file_key, "offset": offset}
            )
            yield doc
            offset += 1
    except Exception as err:  # noqa: BLE001 - any unreadable file is quarantined, never fatal
        # The documents before it were yielded and are accounted for; this one says where reading stopped.
        doc = _removed_doc(spec, file_key, -1, f"unreadable_file:{type(err).__name__}")
        doc.metadata.update(
            source=spec.name, domain=spec.domain, origin={"file": file_key, "offset": offset}
        )
        yield doc


class SourceReader(PipelineStep):
    """Reads the files of all sources; task ``rank`` takes every ``world_size``-th file."""

    name = "read"
    type = "📖 READER"

    def __init__(self, sources: list[SourceSpec]):
        super().__init__()
        self.units = [(spec, path) for spec in sources for path in spec.files()]

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> DocumentsPipeline:
        for spec, path in self.units[rank::world_size]:
            for doc in read_file(spec, path):
                self.stat_update(f"read:{spec.name}")
                yield doc
