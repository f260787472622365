"""What a curate run checks before it writes anything."""

from __future__ import annotations

from pathlib import Path

from core.errors import ConfigError
from core.files import file_sha256
from pipeline.config import CritmixConfig
from pipeline.curation.stages import ingest_steps
from pipeline.progress import console
from pipeline.rundir import RunDir
from stages.registry import switches


def check_sources(config: CritmixConfig) -> dict[str, str]:
    """Structural checks before anything is written; returns input checksums."""
    if not config.sources:
        raise ConfigError(
            "no sources configured: add a 'sources:' list to the config or pass --source NAME:DOMAIN:GLOB"
        )
    checksums = {}
    for source in config.sources:
        files = source.spec(Path.cwd()).files()
        if not files:
            hint = (
                " (run `make corpus` to fetch the demo corpus)"
                if any("data/raw" in p for p in source.paths)
                else ""
            )
            raise ConfigError(f"source '{source.name}': no file matches {source.paths}{hint}")
        for path in files:
            checksums[str(path)] = file_sha256(path)
    return checksums


def warn_unsplittable(config: CritmixConfig) -> None:
    """Name each large file that one task must read alone, so that the user knows why --tasks does not spread it."""
    from stages.ingest.readers import MIN_PIECE_BYTES, unsplittable_files

    sources = [s.spec(Path.cwd()) for s in config.sources]
    for path in unsplittable_files(sources, config.curate.tasks, MIN_PIECE_BYTES):
        console.print(
            f"[yellow]warning[/]: {path} is read by one task, since a {path.suffix} stream cannot be entered in "
            "the middle; store it as plain JSONL or as several files to spread it over the tasks",
            soft_wrap=True,
        )


def preflight(config: CritmixConfig, run_path: Path) -> dict:
    """Everything a run needs, checked before any stage runs or anything is written; returns what the manifest
    records of it: the input checksums, which stages are on, and, in words, the quality model that will score
    the run."""
    checks: dict = {"inputs": check_sources(config), "switches": switches(config.curate)}
    said = ", ".join(
        f"{key.split('.')[1]} {'on' if on else 'off'}" for key, on in checks["switches"].items()
    )
    # Off is a choice of the recipe (the web heuristics suit no code or licence), but it must be seen.
    console.print(
        f"stages: {said} (curate.<stage>.enabled switches each)", highlight=False, soft_wrap=True
    )
    warn_unsplittable(config)
    ingest_steps(
        config, RunDir(run_path)
    )  # each step checks its settings (word lists, models) as it is built
    if config.curate.quality.enabled:
        from stages.quality.scoring import planned_model

        checks["quality_model"] = planned_model(
            config.curate.quality, [s.name for s in config.sources]
        )
        console.print(f"quality model: {checks['quality_model']}")
    return checks
