"""The file sets of an export and the task parts they are assembled from (pipeline/export/tokenize.py).

A file set is one domain x bucket of training documents, or one domain's held-out validation
documents; each format writes it as its own token file(s). This module imports no trainer code, so
that the format writers stay cheap to import (`critmix --help` lists the formats)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np

VALID_BUCKET = "val"


@dataclasses.dataclass(frozen=True, order=True)
class FileSet:
    domain: str
    bucket: str  # "<quality>/<length>", or "val" for the held-out documents
    split: str  # train | valid

    @property
    def name(self) -> str:
        """Its path in the export and among the task parts, without extension."""
        if self.split == "valid":
            return f"valid/{self.domain}"
        return f"train/{self.domain}/{self.bucket.replace('/', '__')}"

    def part(self, task_dir: Path, ext: str) -> Path:
        return task_dir / f"{self.name}.{ext}"


@dataclasses.dataclass
class Parts:
    """A file set's task parts, in task order: its documents in the trainer's order."""

    file_set: FileSet
    task_dirs: list[Path]
    dtype: np.dtype

    def lengths(self) -> np.ndarray:
        """Every document's length in tokens (each ends with the EOS)."""
        return np.concatenate(
            [np.fromfile(self.file_set.part(d, "lengths"), dtype=np.int64) for d in self.task_dirs]
        )

    def chunks(self) -> Iterator[np.ndarray]:
        """The tokens, a task's part at a time."""
        for task_dir in self.task_dirs:
            yield np.fromfile(self.file_set.part(task_dir, "tokens"), dtype=self.dtype)

    def write_tokens(self, path: Path) -> None:
        """All its tokens, concatenated, to ``path`` (a raw array of ``dtype``), a part at a time."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for chunk in self.chunks():
                out.write(chunk.tobytes())


def collect_parts(parts_dir: Path, file_sets: list[FileSet], dtype: np.dtype) -> list[Parts]:
    """Each file set with the task directories that wrote a part of it (tasks are 00000, 00001, ...)."""
    task_dirs = sorted(p for p in parts_dir.iterdir() if p.is_dir())
    return [
        Parts(file_set, [d for d in task_dirs if file_set.part(d, "lengths").is_file()], dtype)
        for file_set in file_sets
    ]
