"""Every step of a curate, in the order it runs: the one list a new filter or stage is added to.

A filter is a per-document step of ingest, run after the reader and the normalizer; a stage is a
whole-corpus stage between ingest and the shards. Each is named by its settings' key under
``curate.`` and runs when those settings say ``enabled`` (buckets have no switch). The executor's
fork server preloads the modules listed here (``pipeline/executors/local.py``), so a stage added
here is never imported anew by every task; ``tests/stages/test_registry.py`` fails for a filter
class or a stage module that is not listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from stages import buckets
from stages.dedup import boilerplate, exact, minhash
from stages.ingest import heuristics, langid, toxicity
from stages.quality import scoring
from stages.tasks import Phase, StageDirs

# (curate.<key>, the filter class, built from those settings)
FILTERS: list[tuple[str, type]] = [
    ("langid", langid.LanguageId),
    ("heuristics", heuristics.HeuristicFilters),
    ("toxicity", toxicity.ToxicityFilter),
]


def counters_only(dirs: StageDirs, counters: dict) -> dict:
    return {"counters": counters}


@dataclass
class Stage:
    """A stage after ingest: its phases of executor tasks, and what the main process records when they are done."""

    name: str
    phases: Callable[[StageDirs], list[Phase]]
    summary: Callable[[StageDirs, dict], dict] = counters_only


@dataclass(frozen=True)
class RegisteredStage:
    """A stage's key under ``curate.``, its module, and how to build it from the settings, run folder and tasks;
    without a builder the stage is its module's ``phases(dirs, settings, tasks)`` and the counters."""

    key: str
    module: ModuleType
    # (its settings, the run directory, tasks) -> the stage
    builder: Callable[[Any, Any, int], Stage] | None = None

    def build(self, settings: Any, run: Any, tasks: int) -> Stage:
        if self.builder is not None:
            return self.builder(settings, run, tasks)
        return Stage(self.key, lambda dirs: self.module.phases(dirs, settings, tasks))


def quality_stage(settings: scoring.QualityConfig, run: Any, tasks: int) -> Stage:
    models = run / "models"
    return Stage(
        "quality",
        lambda dirs: scoring.phases(dirs, settings, models, tasks),
        lambda dirs, counters: {"counters": counters | scoring.model_summary(models)},
    )


# Quality scoring comes before MinHash, so that the best-scored document of a near-duplicate cluster survives.
GLOBAL_STAGES: list[RegisteredStage] = [
    RegisteredStage("boilerplate", boilerplate),
    RegisteredStage("exact_dedup", exact),
    RegisteredStage("quality", scoring, quality_stage),
    RegisteredStage("minhash", minhash),
    RegisteredStage("buckets", buckets),
]


def enabled(curate: Any, key: str) -> bool:
    return getattr(getattr(curate, key), "enabled", True)


def switches(curate: Any) -> dict[str, bool]:
    """Each filter and stage that has a switch, by its key (``curate.<name>.enabled``): on or off."""
    names = [key for key, _ in FILTERS] + [s.key for s in GLOBAL_STAGES]
    return {
        f"curate.{name}.enabled": enabled(curate, name)
        for name in names
        if hasattr(getattr(curate, name), "enabled")
    }


def filter_steps(curate: Any) -> list:
    """The enabled filters of ingest, built from their settings (each checks them as it is built)."""
    return [step(getattr(curate, key)) for key, step in FILTERS if enabled(curate, key)]


def global_stages(curate: Any, run: Any) -> list[Stage]:
    """The enabled stages between ingest and the shards, in the order they run."""
    return [
        s.build(getattr(curate, s.key), run, curate.tasks)
        for s in GLOBAL_STAGES
        if enabled(curate, s.key)
    ]


def step_modules() -> list[str]:
    """The modules whose code the executor's tasks run: what the fork server preloads."""
    registered = [step.__module__ for _, step in FILTERS] + [
        s.module.__name__ for s in GLOBAL_STAGES
    ]
    return [
        "stages.tasks",
        "stages.ingest.readers",
        "stages.ingest.normalize",
        *registered,
        "stages.shards",
    ]
