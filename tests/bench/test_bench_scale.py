"""The scale bench's peer pipeline is datatrove's stock one: a step lost from it would flatter us."""

import ast
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_scale  # noqa: E402


def steps_of_each_run(script: str) -> list[list[str]]:
    """The class names in the step list of every ``run([...], name)`` call of the script."""
    runs = []
    for node in ast.walk(ast.parse(script)):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "run"
            and isinstance(node.args[0], ast.List)
        ):
            runs.append([step.func.id for step in node.args[0].elts])
    return runs


def test_datatrove_pipeline_runs_every_stock_filter_then_its_four_minhash_steps():
    runs = steps_of_each_run(bench_scale.DATATROVE)
    assert runs[0] == [
        "JsonlReader",
        "LanguageFilter",
        "GopherRepetitionFilter",
        "GopherQualityFilter",
        "C4QualityFilter",
        "FineWebQualityFilter",
        "JsonlWriter",
    ]
    assert [steps[-1] if steps[-1] != "JsonlWriter" else steps[-2] for steps in runs[1:]] == [
        "MinhashDedupSignature",
        "MinhashDedupBuckets",
        "MinhashDedupCluster",
        "MinhashDedupFilter",
    ]


def test_datatrove_finds_the_shipped_language_model_without_downloading(tmp_path, monkeypatch):
    import huggingface_hub.utils._cache_assets
    from datatrove.data import Document
    from datatrove.utils.lid import FT176LID

    monkeypatch.setattr(huggingface_hub.utils._cache_assets, "HF_ASSETS_CACHE", str(tmp_path))
    assert bench_scale.place_language_model().is_relative_to(tmp_path)
    best, _ = FT176LID().predict(
        Document(text="The river ran past the old mill and the village church.", id="0")
    )
    assert best[0] == "en"
