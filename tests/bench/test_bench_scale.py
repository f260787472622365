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
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run" and isinstance(node.args[0], ast.List):
            runs.append([step.func.id for step in node.args[0].elts])
    return runs


def test_datatrove_pipeline_runs_every_stock_filter_then_its_four_minhash_steps():
    runs = steps_of_each_run(bench_scale.DATATROVE)
    assert runs[0] == ["JsonlReader", "LanguageFilter", "GopherRepetitionFilter", "GopherQualityFilter",
                       "C4QualityFilter", "FineWebQualityFilter", "JsonlWriter"]
    assert [steps[-1] if steps[-1] != "JsonlWriter" else steps[-2] for steps in runs[1:]] == [
        "MinhashDedupSignature", "MinhashDedupBuckets", "MinhashDedupCluster", "MinhashDedupFilter"]
