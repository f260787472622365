"""Run directories: ``runs/<name>/`` with its manifest and its lock (atomic writes: core/files.py).

manifest.json records the resolved config and its hash, package versions, input checksums, and
per stage: status, the hash of what it depends on, counters, timings and output checksums.
"""

from __future__ import annotations

import json
import time
from importlib import metadata
from pathlib import Path

from core.errors import CritmixError, create_output_dir
from core.files import write_json
from core.locks import LockHeld, lock_for_life, release

PACKAGES = [
    "datatrove",
    "pyarrow",
    "duckdb",
    "numpy",
    "scipy",
    "torch",
    "transformers",
    "tokenizers",
]


class RunInUse(CritmixError):
    pass


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class RunDir:
    """A run directory; use as a context manager to hold its lock while working in it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.manifest_path = self.path / "manifest.json"
        self.lock_path = self.path / ".lock"
        self.manifest = (
            json.loads(self.manifest_path.read_text())
            if self.manifest_path.exists()
            else {"stages": {}}
        )

    def __truediv__(self, part: str) -> Path:
        return self.path / part

    def __enter__(self) -> RunDir:
        create_output_dir(self.path, "--run")
        self._lock = self._acquire()
        return self

    def __exit__(self, *exc) -> None:
        release(self._lock)

    def _acquire(self):
        try:
            return lock_for_life(self.lock_path)
        except LockHeld as held:
            raise RunInUse(
                f"{self.path} is in use by process {held.holder}; wait for it to finish, "
                f"or pass another --run directory"
            ) from None

    def save_manifest(self) -> None:
        write_json(self.manifest_path, self.manifest)

    def stage_done(self, stage: str, key: str) -> bool:
        entry = self.manifest["stages"].get(stage, {})
        return entry.get("status") == "done" and entry.get("key") == key

    def record_stage(self, stage: str, key: str, status: str, **fields) -> None:
        entry = {
            "status": status,
            "key": key,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        entry.update(fields)
        self.manifest["stages"][stage] = entry
        self.save_manifest()
