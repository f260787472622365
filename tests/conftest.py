import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / "tests/data/tiny/config.yaml"


@pytest.fixture
def in_repo(monkeypatch):
    """Run with the repository root as working directory, as the CLI expects."""
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture
def tiny_run(tmp_path, in_repo):
    """A finished curate run of the tiny checked-in corpus (one worker)."""
    from pipeline.cli import main

    run = tmp_path / "run"
    assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(run)]) == 0
    return run
