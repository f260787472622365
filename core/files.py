"""Atomic writes and checksums, for the stages and the pipeline alike.

A file appears under its final name only when it is complete: it is written to a hidden temp
file beside it (readers skip names that start with '.') and renamed, so a killed run never leaves
half a file that a resumed run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_path(path: Path) -> Path:
    """The hidden temp file ``path`` is written to before it is renamed into place. The name carries the pid
    because several processes (DDP ranks) may write the same file at once."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def remove_leftovers(folder: Path) -> int:
    """Delete the temp files under ``folder`` that killed writers left; call only while holding the folder."""
    leftovers = [p for p in Path(folder).rglob(".*.tmp-*") if p.is_file()]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return len(leftovers)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temp path to write; it becomes ``path`` when the block ends, and is deleted if the block fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """A hidden temp folder to fill; it replaces ``path`` when the block ends. If the block fails it is
    deleted: a model's worth of space given back before a full disk's error surfaces."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


def finished_files(root: Path, pattern: str = "**/*.parquet") -> list[Path]:
    """The files under ``root`` that match ``pattern``, sorted, without the hidden ones of writes in progress."""
    return sorted(p for p in Path(root).glob(pattern) if not p.name.startswith("."))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data) -> None:
    """JSON as every manifest and stage record is written: atomically, keys sorted (stable bytes for the same
    data), indented, ending in a newline; a value JSON lacks (a Path, a datetime) is written as its text."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_array(path: Path, array) -> None:
    """``np.save`` atomically. Through a handle: np.save given a name would append ".npy" to the temp name."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)
