"""A filter or stage that is not in stages/registry.py is an error here, not a silent slowdown or a no-op."""

import ast
from pathlib import Path

from pipeline.executors.local import PRELOAD
from stages.registry import FILTERS, GLOBAL_STAGES, step_modules

STAGES = Path(__file__).resolve().parents[2] / "stages"
ALWAYS_ON = {"Normalizer"}  # every ingest runs it, before the filters


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(STAGES.parent).with_suffix("").parts)


def curation_modules() -> dict[str, ast.Module]:
    return {
        module_name(p): ast.parse(p.read_text())
        for p in STAGES.rglob("*.py")
        if "plan" not in p.parts
    }


def test_every_filter_class_is_registered():
    defined = {
        node.name
        for tree in curation_modules().values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(getattr(b, "id", None) == "CurationFilter" for b in node.bases)
    }
    registered = {step.__name__ for _, step in FILTERS}
    assert defined - ALWAYS_ON == registered, "add the filter to FILTERS in stages/registry.py"


def test_every_module_with_stage_phases_is_a_registered_stage():
    with_phases = {
        name
        for name, tree in curation_modules().items()
        if any(isinstance(node, ast.FunctionDef) and node.name == "phases" for node in tree.body)
    }
    registered = {s.module.__name__ for s in GLOBAL_STAGES}
    assert with_phases - {"stages.shards"} == registered, (
        "add the stage to GLOBAL_STAGES in stages/registry.py"
    )


def test_the_fork_server_preloads_every_registered_step():
    assert set(step_modules()) <= set(PRELOAD)
    assert {s.module.__name__ for s in GLOBAL_STAGES} | {
        step.__module__ for _, step in FILTERS
    } <= set(PRELOAD)


def test_a_stage_runs_exactly_when_its_settings_enable_it():
    from pipeline.config import CurateConfig
    from stages.registry import global_stages

    curate = CurateConfig()
    everything = [stage.name for stage in global_stages(curate, Path("run"))]
    curate.minhash.enabled = False
    assert [stage.name for stage in global_stages(curate, Path("run"))] == [
        n for n in everything if n != "minhash"
    ]
    assert everything[-1] == "buckets" and everything.index("quality") < everything.index("minhash")
