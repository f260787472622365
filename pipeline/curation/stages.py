"""The stages of a curate run in order, each with its key and its executor jobs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from pipeline.config import CritmixConfig
from pipeline.rundir import RunDir
from stages.registry import Stage, filter_steps
from stages.tasks import StageDirs


def shards_stage(config: CritmixConfig) -> Stage:
    from stages import shards

    return Stage(
        "shards",
        lambda dirs: shards.phases(dirs, config.curate.tasks),
        lambda dirs, counters: {"counters": counters, "outputs": shards.checksums(dirs)},
    )


def stage_dirs(run: RunDir, name: str, inputs: Path) -> StageDirs:
    out = run / "shards" if name == "shards" else run / f"work/{name}"
    return StageDirs(inputs=inputs, out=out, removed=run / "removed", scratch=run / f"tmp/{name}")


def ingest_steps(config: CritmixConfig, run: RunDir) -> list:
    from stages.ingest.normalize import Normalizer
    from stages.ingest.readers import SourceReader
    from stages.writers import WorkWriter

    curate = config.curate
    return [
        SourceReader([s.spec(Path.cwd()) for s in config.sources]),
        Normalizer(curate.normalize),
        *filter_steps(curate),
        WorkWriter(
            str(run / "work/ingest"),
            str(run / "removed"),
            file_bytes=int(curate.work_file_mb * 2**20),
        ),
    ]


@dataclasses.dataclass
class PlannedStage:
    """A stage with its key; ``jobs`` lists its executor runs as (logging dir, steps, tasks)."""

    name: str
    key: str
    work: Callable[[], dict]
    jobs: list[tuple[Path, list, int]]


def stage_key(parent: str, payload) -> str:
    """A stage's identity: its parent's key and what it adds (config, inputs, name)."""
    text = parent + json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
