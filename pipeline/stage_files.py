"""What each curate stage wrote, and whether it is still what it wrote.

The manifest records, per stage, every file the stage left under the run's output folders (relative to
the run) with its size, modification time and sha256. A rerun checks them before it skips a stage: a file
whose size and mtime are as recorded is taken as it was (a finished run's files are never touched, and
hashing a corpus on every rerun would cost minutes); any other is hashed. ``critmix verify`` hashes all of
them, which also finds a file rewritten to the same size with its mtime put back.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.files import file_sha256

# The run's folders that curate writes and its readers read (logs/ and tmp/ are neither).
OUTPUT_FOLDERS = ("work", "removed", "shards", "models")


def finished_outputs(run: Path) -> list[str]:
    """Every finished file under the output folders, relative to the run; writes in progress (hidden
    names, hidden temp folders) are not."""
    return sorted(
        str(path.relative_to(run))
        for folder in OUTPUT_FOLDERS
        for path in (run / folder).rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(run).parts)
    )


def describe(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_sha256(path)}


def written_files(run: Path, others: Iterable[str]) -> dict[str, dict]:
    """The files a stage that has just finished wrote: those under the output folders that no other stage
    recorded (``others``), each with its size, mtime and sha256."""
    recorded = set(others)
    return {rel: describe(run / rel) for rel in finished_outputs(run) if rel not in recorded}


def damaged_files(run: Path, files: dict[str, dict], full: bool = False) -> list[str]:
    """``<file>: missing`` or ``<file>: changed since it was written`` for each recorded file that is not
    what was written. Only files whose size or mtime changed are hashed, unless ``full``."""
    found = []
    for rel, recorded in sorted(files.items()):
        path = run / rel
        if not path.is_file():
            found.append(f"{rel}: missing")
            continue
        stat = path.stat()
        unchanged = stat.st_size == recorded["size"] and stat.st_mtime_ns == recorded["mtime_ns"]
        if (full or not unchanged) and file_sha256(path) != recorded["sha256"]:
            found.append(f"{rel}: changed since it was written")
    return found
