from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / "tests/data/tiny/config.yaml"


def curate_tiny(run: Path, *args: str) -> int:
    """``critmix curate`` of the tiny config into ``run``, with more arguments; returns its exit code."""
    from pipeline.cli import main

    return main(["curate", "--config", str(TINY_CONFIG), "--run", str(run), *args])


def tree_checksums(root: Path, pattern: str = "**/*.parquet") -> dict[str, str]:
    """Every finished file under ``root`` (relative path) -> its sha256: byte-identical runs compare equal."""
    from core.files import file_sha256, finished_files

    return {str(p.relative_to(root)): file_sha256(p) for p in finished_files(Path(root), pattern)}


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory):
    """Classifiers trained by tests are cached in the session's temporary folder, not the repository's data/models."""
    from stages.quality.scoring import MODEL_CACHE_ENV

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MODEL_CACHE_ENV, str(tmp_path_factory.mktemp("models")))
        yield


@pytest.fixture
def in_repo(monkeypatch):
    """Run with the repository root as working directory, as the CLI expects."""
    monkeypatch.chdir(REPO)
    return REPO


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished curate run of the tiny checked-in corpus (one worker), built once: tests only read it."""

    run = tmp_path_factory.mktemp("tiny") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        assert curate_tiny(run) == 0
    return run


@pytest.fixture(scope="session")
def toxic_tiny_run(tmp_path_factory):
    """The tiny run with the toxicity filter on a one-word list, so that some licences are removed by a rule."""

    root = tmp_path_factory.mktemp("toxic")
    (root / "words.txt").write_text("warranty\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        assert (
            curate_tiny(
                root / "run",
                "--set",
                "curate.toxicity.enabled=true",
                "--set",
                f"curate.toxicity.word_list={root / 'words.txt'}",
            )
            == 0
        )
    return root / "run"
