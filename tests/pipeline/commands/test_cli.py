"""The command line's parser is built without the heavy libraries the commands use."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

HEAVY = ("scipy", "torch", "transformers", "matplotlib", "duckdb", "fasttext", "spacy")


def test_building_the_parser_imports_no_heavy_library():
    probe = (
        "import sys; from pipeline.cli import build_parser; build_parser(); "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.split() == []


def test_a_config_mistake_found_by_a_stage_exits_2_and_a_bug_keeps_its_traceback(
    tmp_path, in_repo, capsys, monkeypatch
):
    import pytest

    from pipeline.cli import main
    from pipeline.curation import preflight

    run = ["curate", "--config", "configs/tiny.yaml", "--run", str(tmp_path / "run")]
    assert main([*run, "--set", "curate.toxicity.enabled=true"]) == 2
    err = capsys.readouterr().err
    assert "critmix curate: config error:" in err and "curate.toxicity.word_list" in err

    def broken(*args):
        raise RuntimeError("a library's internal failure")

    monkeypatch.setattr(preflight, "check_sources", broken)
    with pytest.raises(RuntimeError, match="internal failure"):
        main(run)


def import_graph(root: Path) -> dict[str, set[str]]:
    """critmix module -> the critmix modules it imports anywhere in it, also inside a function."""
    import ast

    paths = [
        path
        for package in ("core", "pipeline", "stages", "trainer")
        for path in root.glob(f"{package}/**/*.py")
    ]
    names = {
        path: ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for path in paths
    }
    modules = set(names.values())
    graph = {}
    for path, module in names.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom) and node.module
            ):  # `from pipeline import curate` imports a module too
                imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        graph[module] = {name for name in imported if name in modules} - {module}
    return graph


def test_the_modules_of_critmix_import_each_other_without_a_cycle():
    from graphlib import CycleError, TopologicalSorter

    try:
        TopologicalSorter(import_graph(REPO)).prepare()
    except CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None


def test_core_imports_nothing_of_critmix_and_the_trainer_only_core():
    """What the trainer imports must travel with it to a GPU host (``critmix plan --export-pilots``)."""
    graph = import_graph(REPO)
    for module, imported in graph.items():
        if module.startswith("core"):
            assert all(name.startswith("core") for name in imported), (module, imported)
        if module.startswith("trainer"):
            assert all(name.startswith(("core", "trainer")) for name in imported), (
                module,
                imported,
            )


def test_every_critmix_command_the_readme_shows_runs_without_activating_anything():
    readme = (REPO / "README.md").read_text()
    code = re.findall(r"```[a-z]*\n(.*?)```", readme, re.S) + re.findall(r"`([^`\n]+)`", readme)
    bare = [
        line for block in code for line in block.splitlines() if re.match(r"\s*critmix\s+\S", line)
    ]
    assert not bare, (
        f"{bare[:3]}: a fresh clone has no `critmix` on PATH; the README shows `./critmix`"
    )


def test_the_critmix_wrapper_sets_up_the_venv_once_then_runs_the_command_line(tmp_path):
    repo = REPO
    shutil.copy(repo / "critmix", tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    # Stands in for the real `make venv` (which installs): a .venv whose python is this one.
    (tmp_path / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (tmp_path / "Makefile").write_text(
        "venv: .venv/.installed\n.venv/.installed: pyproject.toml\n"
        "\tmkdir -p .venv/bin && install -m 755 python .venv/bin/python && touch $@\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo)}
    first, second = (
        subprocess.run(
            ["./critmix", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        for _ in range(2)
    )
    assert (
        first.returncode == second.returncode == 0 and "<command>" in first.stdout == second.stdout
    )
    assert "setting up" in first.stderr and "setting up" not in second.stderr
