"""A real kill: an export in its own process group, SIGKILLed once a tokenize task has finished and
before the last, then run again: its files are byte-identical to those of an uninterrupted export."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.files import file_sha256
from pipeline.export import FORMATS
from pipeline.export.run import export
from tests.pipeline.export.conftest import CURRICULUM, settings
from tests.trainer.conftest import write_shards

REPO = Path(__file__).resolve().parents[3]
TASKS = 24  # Parquet files: 8 copies of the 3 synthetic ones
EXPORT = """
import sys
from pathlib import Path
from pipeline.export import FORMATS
from pipeline.export.run import export
from tests.pipeline.export.conftest import CURRICULUM, settings
shards, tokenizer, out = map(Path, sys.argv[1:])
export(shards, CURRICULUM, FORMATS["megatron"], out, settings(tokenizer))
"""


def many_shards(root: Path) -> Path:
    for copy in range(TASKS // 3):
        for path in sorted(write_shards(root / f"copy{copy}", seed=copy).rglob("*.parquet")):
            target = root / "shards" / path.relative_to(root / f"copy{copy}")
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target.with_name(f"{copy}-{path.name}"))
    return root / "shards"


def checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): file_sha256(p) for p in sorted(root.rglob("*")) if p.is_file()
    }


def kill_midway(shards: Path, tokenizer: Path, out: Path) -> int:
    """Start the export, SIGKILL its process group (the task processes too) after the first finished
    task; returns how many tasks had finished."""
    completions = out.with_name(f".{out.name}.partial") / "work/logs/completions"
    process = subprocess.Popen(
        [sys.executable, "-c", EXPORT, str(shards), str(tokenizer), str(out)],
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while process.poll() is None and not (completions.is_dir() and any(completions.iterdir())):
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return len(list(completions.iterdir())) if completions.is_dir() else 0


@pytest.mark.slow
def test_a_killed_export_reruns_to_the_same_bytes(tokens, tmp_path):
    shards = many_shards(tmp_path)
    tokenizer = tokens / "tokenizer.json"
    out = tmp_path / "megatron"
    export(shards, CURRICULUM, FORMATS["megatron"], out, settings(tokenizer))
    uninterrupted = checksums(out)
    shutil.rmtree(out)
    done = kill_midway(shards, tokenizer, out)
    assert 0 < done < TASKS and not out.exists()  # killed midway: tasks left, nothing in place
    export(shards, CURRICULUM, FORMATS["megatron"], out, settings(tokenizer))
    assert checksums(out) == uninterrupted
    assert not out.with_name(
        ".megatron.partial"
    ).exists()  # the rerun cleared the killed one's parts
