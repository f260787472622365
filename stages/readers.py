"""Reading sources into Documents: JSONL (plain, .gz, .zst), Parquet, text files.

Every record read becomes exactly one Document, including records that cannot be used (broken
JSON, missing text): those come out already marked removed by stage ``read`` so that the
per-source count check holds. A file that cannot be opened at all is one removed Document
with the file's path as its id.
"""
from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from stages.base import mark_removed

FORMATS = ("jsonl", "parquet", "text", "auto")


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
                found.update(Path(pattern_path.anchor).glob(str(pattern_path.relative_to(pattern_path.anchor))))
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


def _open_text_lines(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="strict", newline="\n")
    if path.suffix == ".zst":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(path.open("rb"))
        return io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="\n")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8", errors="strict", newline="\n")


def _record_document(spec: SourceSpec, file_key: str, offset: int, record) -> Document:
    """A Document from one parsed record (a dict), or a removed one saying what was wrong."""
    doc = Document(text="", id=stable_id(spec.name, file_key, offset))
    if not isinstance(record, dict):
        mark_removed(doc, "read", "not_an_object")
        return doc
    text = record.get(spec.text_key)
    carried_id = record.get(spec.id_key)
    if carried_id is not None:
        doc.id = str(carried_id)
    if not isinstance(text, str):
        mark_removed(doc, "read", "missing_text" if text is None else "text_not_string")
        return doc
    doc.text = text
    doc.metadata["meta"] = {k: v for k, v in record.items() if k not in (spec.text_key, spec.id_key)}
    return doc


def _read_jsonl(spec: SourceSpec, path: Path, file_key: str) -> Iterator[Document]:
    offset = 0
    with _open_text_lines(path) as lines:
        try:
            for offset, line in enumerate(lines):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    doc = Document(text="", id=stable_id(spec.name, file_key, offset))
                    mark_removed(doc, "read", "invalid_json")
                    yield doc
                    continue
                yield _record_document(spec, file_key, offset, record)
        except (UnicodeDecodeError, EOFError, OSError, ValueError) as err:
            # The rest of the file is unreadable: account for it as one removed document.
            doc = Document(text="", id=stable_id(spec.name, file_key, offset + 1))
            mark_removed(doc, "read", f"truncated_file:{type(err).__name__}")
            yield doc


def _read_parquet(spec: SourceSpec, path: Path, file_key: str) -> Iterator[Document]:
    import pyarrow.parquet as pq

    offset = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            yield _record_document(spec, file_key, offset, record)
            offset += 1


def _read_text(spec: SourceSpec, path: Path, file_key: str) -> Iterator[Document]:
    doc = Document(text="", id=stable_id(spec.name, file_key, 0))
    try:
        doc.text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        mark_removed(doc, "read", "invalid_utf8")
    yield doc


READERS = {"jsonl": _read_jsonl, "parquet": _read_parquet, "text": _read_text}


def read_file(spec: SourceSpec, path: Path) -> Iterator[Document]:
    """All documents of one file, tagged with source, domain and where they came from."""
    file_key = str(path.relative_to(spec.root)) if path.is_relative_to(spec.root) else str(path)
    reader = READERS[file_format(spec, path)]
    try:
        for offset, doc in enumerate(reader(spec, path, file_key)):
            doc.metadata.update(source=spec.name, domain=spec.domain, origin={"file": file_key, "offset": offset})
            yield doc
    except Exception as err:  # noqa: BLE001 - any unreadable file is quarantined, never fatal
        doc = Document(text="", id=stable_id(spec.name, file_key, -1))
        mark_removed(doc, "read", f"unreadable_file:{type(err).__name__}")
        doc.metadata.update(source=spec.name, domain=spec.domain, origin={"file": file_key, "offset": -1})
        yield doc


class SourceReader(PipelineStep):
    """Reads the files of all sources; task ``rank`` takes every ``world_size``-th file."""

    name = "read"
    type = "📖 READER"

    def __init__(self, sources: list[SourceSpec]):
        super().__init__()
        self.units = [(spec, path) for spec in sources for path in spec.files()]

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for spec, path in self.units[rank::world_size]:
            for doc in read_file(spec, path):
                self.stat_update(f"read:{spec.name}")
                yield doc
