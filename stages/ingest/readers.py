"""Reading sources into Documents: JSONL (plain, .gz, .zst), Parquet, text files.

Every record read becomes exactly one Document, including records that cannot be used (broken
JSON, missing text, nesting past Python's recursion limit, a number too long to convert, a lone
surrogate): those come out already marked removed by stage ``read``, and the file goes on, so
that the per-source count check holds. A file that cannot be read on is one more removed
Document after the records read before it.

A large file is read by several tasks (``pieces``): plain JSONL as byte ranges, each task reading the lines
that start in its range, Parquet as runs of row groups. A record's id and origin are its position in the
whole file, whichever task reads it, so the documents do not depend on the task count. Compressed JSONL
(gzip, zstd streams) cannot be entered in the middle and is read by one task.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

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


def _read_jsonl(piece: Piece, file_key: str) -> Iterator[tuple[int, Document]]:
    spec, offset = piece.spec, -1
    try:
        for offset, line in _numbered_lines(piece):
            yield offset, _line_document(spec, file_key, offset, line)
    except (EOFError, OSError, ValueError) as err:
        # The rest of the file is unreadable: account for it as one removed document.
        offset += 1
        yield offset, _removed_doc(spec, file_key, offset, f"truncated_file:{type(err).__name__}")
        return
    if offset == -1 and piece.start == 0:
        yield 0, _removed_doc(spec, file_key, 0, "empty_file")


def _numbered_lines(piece: Piece) -> Iterator[tuple[int, bytes]]:
    """(line number in the file, line) of the lines of ``piece``: for a byte range, those that start in it."""
    if piece.end is None and piece.start == 0:
        yield from enumerate(_binary_lines(piece.path))
        return
    with piece.path.open("rb") as handle:
        position = _next_line_start(handle, piece.start)
        first = _newlines_before(handle, position)
        handle.seek(position)
        for number, line in enumerate(handle, start=first):
            if piece.end is not None and position >= piece.end:
                return
            yield number, line
            position += len(line)


def _next_line_start(handle: BinaryIO, position: int) -> int:
    """The first line start at or after byte ``position``: a line belongs to the range its first byte is in."""
    if position == 0:
        return 0
    handle.seek(position - 1)
    handle.readline()  # to the end of the line that holds byte position - 1 (just that byte if it is a newline)
    return handle.tell()


def _newlines_before(handle: BinaryIO, position: int, chunk: int = 1 << 24) -> int:
    """How many lines start before byte ``position``: a count at memory speed, so that a task that starts in the
    middle of a file numbers its lines as a task reading the whole file would."""
    handle.seek(0)
    count = 0
    while position > 0:
        data = handle.read(min(chunk, position))
        count += data.count(b"\n")
        position -= len(data)
    return count


def _read_parquet(piece: Piece, file_key: str) -> Iterator[tuple[int, Document]]:
    import pyarrow.parquet as pq

    spec, parquet = piece.spec, pq.ParquetFile(piece.path)
    if spec.text_key not in parquet.schema_arrow.names:
        if piece.start == 0:
            yield 0, _removed_doc(spec, file_key, 0, f"wrong_schema:no column '{spec.text_key}'")
        return
    groups = range(piece.start, parquet.num_row_groups if piece.end is None else piece.end)
    offset = sum(parquet.metadata.row_group(g).num_rows for g in range(piece.start))
    for batch in parquet.iter_batches(batch_size=1024, row_groups=list(groups)):
        for record in batch.to_pylist():
            yield offset, _record_document(spec, file_key, offset, record)
            offset += 1
    if offset == 0 and piece.start == 0:
        yield 0, _removed_doc(spec, file_key, 0, "empty_file")


def _read_text(piece: Piece, file_key: str) -> Iterator[tuple[int, Document]]:
    try:
        text = piece.path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        yield 0, _removed_doc(piece.spec, file_key, 0, "invalid_utf8")
        return
    yield 0, Document(text=text, id=stable_id(piece.spec.name, file_key, 0))


READERS = {"jsonl": _read_jsonl, "parquet": _read_parquet, "text": _read_text}


def read_file(spec: SourceSpec, path: Path) -> Iterator[Document]:
    """All documents of one file."""
    return read_piece(Piece(spec, path))


def read_piece(piece: Piece) -> Iterator[Document]:
    """The documents of one piece of a file, tagged with source, domain and where in the file they came from."""
    spec, path = piece.spec, piece.path
    file_key = str(path.relative_to(spec.root)) if path.is_relative_to(spec.root) else str(path)
    reader = READERS[file_format(spec, path)]
    offset = -1
    try:
        for offset, doc in reader(piece, file_key):
            yield _tagged(doc, spec, file_key, offset)
    except Exception as err:  # noqa: BLE001 - any unreadable file is quarantined, never fatal
        # The documents before it were yielded and are accounted for; this one says where reading stopped.
        doc = _removed_doc(spec, file_key, -1, f"unreadable_file:{type(err).__name__}")
        yield _tagged(doc, spec, file_key, offset + 1)


def _tagged(doc: Document, spec: SourceSpec, file_key: str, offset: int) -> Document:
    doc.metadata.update(
        source=spec.name, domain=spec.domain, origin={"file": file_key, "offset": offset}
    )
    return doc


@dataclass(frozen=True)
class Piece:
    """What one task reads of a file: all of it, or (plain JSONL) the lines that start in bytes
    ``[start, end)``, or (Parquet) row groups ``[start, end)``; ``end`` None: to the end of the file."""

    spec: SourceSpec
    path: Path
    start: int = 0
    end: int | None = None


# A piece smaller than this is not worth a task of its own.
MIN_PIECE_BYTES = 16 * 2**20


def pieces(units: list[tuple[SourceSpec, Path]], tasks: int, min_bytes: int) -> list[Piece]:
    """The files cut so that ``tasks`` tasks get about equal shares: a file larger than a task's share of the
    corpus (and than ``min_bytes``) becomes that many pieces, where its format can be entered in the middle."""
    sizes = [path.stat().st_size for _, path in units]
    share = task_share(sizes, tasks, min_bytes)
    cut: list[Piece] = []
    for (spec, path), size in zip(units, sizes):
        count = -(-size // share)
        kind = splittable(spec, path) if count > 1 else None
        if kind == "bytes":
            bounds = [size * i // count for i in range(count + 1)]
        elif kind == "row_groups":
            bounds = _row_group_bounds(path, count)
        else:
            bounds = [0, 0]
        cut += [Piece(spec, path, a, b) for a, b in zip(bounds, bounds[1:])]
        cut[-1] = Piece(spec, path, cut[-1].start)  # the last piece reads to the end of the file
    return cut


def task_share(sizes: list[int], tasks: int, min_bytes: int) -> int:
    """The bytes one task reads when ``tasks`` tasks share files of ``sizes`` bytes, ``min_bytes`` at least."""
    return max(1, min_bytes, -(-sum(sizes) // max(1, tasks)))


def splittable(spec: SourceSpec, path: Path) -> str | None:
    """How a file can be cut: "bytes" (plain JSONL), "row_groups" (Parquet), None (compressed JSONL, text)."""
    fmt = file_format(spec, path)
    if fmt == "jsonl" and path.suffix not in COMPRESSED:
        return "bytes"
    return "row_groups" if fmt == "parquet" else None


COMPRESSED = (".gz", ".zst")


def _row_group_bounds(path: Path, count: int) -> list[int]:
    """Row-group indices that cut a Parquet file into at most ``count`` runs of about equal bytes; the whole
    file when its footer cannot be read (its one task then removes it as unreadable)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except (OSError, ValueError):
        return [0, 0]
    sizes = [meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)]
    total, done, bounds = max(1, sum(sizes)), 0, [0]
    for g, size in enumerate(sizes[:-1], start=1):
        done += size
        if done * count >= total * len(bounds) and len(bounds) < count:
            bounds.append(g)
    return bounds + [meta.num_row_groups]


def unsplittable_files(sources: list[SourceSpec], tasks: int, min_bytes: int) -> list[Path]:
    """Compressed JSONL files larger than a task's share of the corpus: each is read by one task alone, because a
    gzip or zstd stream cannot be entered in the middle."""
    units = source_units(sources)
    share = task_share([path.stat().st_size for _, path in units], tasks, min_bytes)
    return [
        path
        for spec, path in units
        if path.stat().st_size > share
        and file_format(spec, path) == "jsonl"
        and path.suffix in COMPRESSED
    ]


def source_units(sources: list[SourceSpec]) -> list[tuple[SourceSpec, Path]]:
    return [(spec, path) for spec in sources for path in spec.files()]


class SourceReader(PipelineStep):
    """Reads the files of all sources; task ``rank`` takes every ``world_size``-th piece of them (``pieces``)."""

    name = "read"
    type = "📖 READER"

    def __init__(self, sources: list[SourceSpec]):
        super().__init__()
        self.units = source_units(sources)
        self.min_piece_bytes = MIN_PIECE_BYTES

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> DocumentsPipeline:
        for piece in pieces(self.units, world_size, self.min_piece_bytes)[rank::world_size]:
            for doc in read_piece(piece):
                self.stat_update(f"read:{piece.spec.name}")
                yield doc
