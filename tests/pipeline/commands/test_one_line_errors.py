"""Errors the user can fix are one line on stderr with exit 2 (config, query) or 1 (input, environment),
through the real command lines; Ctrl-C is one line and 130; a reader that closes the pipe sees silence."""

import json
import shutil
import subprocess
import sys

import pytest

from pipeline.cli import main
from tests.conftest import REPO, TINY_CONFIG

# A YAML tag that PyYAML's full loader would call; its marker file shows whether anything ran.
PYTHON_TAG = "train: !!python/object/apply:os.system ['touch {marker}']\n"


def run_module(module: str, *args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def one_line(done: subprocess.CompletedProcess) -> str:
    assert len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr


def test_a_python_tag_in_a_recipe_is_a_one_line_config_error_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "recipe.yaml").write_text(PYTHON_TAG.format(marker=marker))
    done = run_module("pipeline", "sql", "--config", str(tmp_path / "recipe.yaml"), "SELECT 1")
    assert done.returncode == 2
    assert "recipe.yaml: not plain YAML at line 1" in one_line(done)
    assert not marker.exists()


@pytest.mark.slow
def test_a_python_tag_in_a_curriculum_is_a_one_line_config_error_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "curriculum.yaml").write_text(
        PYTHON_TAG.format(marker=marker).replace("train", "phases")
    )
    done = run_module(
        "trainer",
        "train",
        "--curriculum",
        str(tmp_path / "curriculum.yaml"),
        "--tokens",
        str(tmp_path / "tokens"),
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 2
    assert "curriculum.yaml: not plain YAML" in one_line(done)
    assert not marker.exists()


def test_sql_before_curate_names_the_curate_command_of_that_config(tmp_path):
    done = run_module(
        "pipeline",
        "sql",
        "--config",
        str(TINY_CONFIG),
        "--set",
        "curate.tasks=1",
        "SELECT 1",
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert f"run `critmix curate --config {TINY_CONFIG} --set curate.tasks=1` first" in one_line(
        done
    )


@pytest.mark.parametrize("command", ["plan", "train"])
def test_plan_or_train_before_curate_names_the_curate_command_of_that_config(tmp_path, command):
    run = tmp_path / "run"
    run.mkdir()
    if command == "train":
        (run / "plan").mkdir()
        (run / "plan/curriculum.yaml").write_text("phases: []\n")
    done = run_module(
        "pipeline", command, "--config", str(TINY_CONFIG), "--run", str(run), cwd=tmp_path
    )
    assert done.returncode == 1
    assert f"run `critmix curate --config {TINY_CONFIG} --run {run}` first" in one_line(done)


def test_sql_into_a_closed_pipe_is_silent(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"stages": {}, "counts": {}}))
    # JSON Lines go out row by row, so writes go on after the pipe is closed, whatever its buffer holds.
    reader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "sql",
            "--run",
            str(tmp_path),
            "--format",
            "jsonl",
            "SELECT range AS n FROM range(2000000)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout.read(100).startswith(b'{"n": 0}\n')
    reader.stdout.close()  # what `| head` does once it has its lines
    assert reader.stderr.read() == b"" and reader.wait(timeout=300) == 141


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    from pipeline.commands import sql

    def interrupted(run_dir):
        raise KeyboardInterrupt

    (tmp_path / "manifest.json").write_text(json.dumps({"stages": {}, "counts": {}}))
    monkeypatch.setattr(sql, "connect", interrupted)
    assert main(["sql", "--run", str(tmp_path), "SELECT 1"]) == 130
    assert (
        capsys.readouterr().err
        == "critmix sql: interrupted; run the same command again to resume\n"
    )


def test_lost_documents_are_one_line_saying_to_rerun_with_force(
    tiny_run, tmp_path, in_repo, capsys
):
    from core.files import finished_files

    run = shutil.copytree(tiny_run, tmp_path / "run")  # the tiny run is shared: damage a copy
    # A stage that lost documents: a file of removed/ it neither wrote nor recorded (a recorded file that
    # went missing would be redone, test_verify.py).
    lost = next(iter(finished_files(run / "removed")))
    lost.unlink()
    manifest = json.loads((run / "manifest.json").read_text())
    for entry in manifest["stages"].values():
        entry["files"].pop(str(lost.relative_to(run)), None)
    (run / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(run)]) == 1
    *progress, error = (
        capsys.readouterr().err.splitlines()
    )  # the console's progress lines go to stderr too
    assert error.startswith("critmix curate: documents lost or duplicated") and error.endswith(
        "rerun with --force"
    )
    assert not any("Traceback" in line or line.startswith("critmix curate:") for line in progress)


@pytest.mark.parametrize(
    ("option", "value"), [("--workers", "0"), ("--tasks", "0"), ("--workers", "-3")]
)
def test_no_workers_or_tasks_is_a_one_line_config_error(tmp_path, option, value):
    done = run_module(
        "pipeline",
        "curate",
        "--config",
        str(TINY_CONFIG),
        "--run",
        str(tmp_path / "run"),
        option,
        value,
    )
    assert done.returncode == 2
    assert f"curate.{option[2:]}: {value} must be at least 1" in one_line(done)
    assert not (tmp_path / "run").exists()


def test_make_train_with_a_missing_config_says_so_in_critmix_words(tmp_path):
    missing = tmp_path / "missing.yaml"
    # -o: the venv counts as installed, so that make goes straight to the config
    done = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "train", f"CONFIG={missing}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert f"critmix plan: config error: config file {missing} does not exist" in done.stderr
    assert "No rule to make target" not in done.stderr


@pytest.mark.parametrize(
    ("command", "key", "value", "least"),
    [
        ("plan", "curate.workers", "-3", 1),
        ("plan", "plan.pilots.parallel", "0", 1),
        ("train", "train.data.tokenize_workers", "0", 1),
        ("train", "train.threads", "-1", 0),
        ("export", "curate.workers", "0", 1),
        ("export", "curate.tasks", "-3", 1),
    ],
)
def test_no_workers_or_threads_is_a_one_line_config_error_for_every_command(
    tmp_path, capsys, command, key, value, least
):
    export_format = ["--format", "megatron"] if command == "export" else []
    run = tmp_path / "run"
    args = ["--config", str(TINY_CONFIG), "--run", str(run), "--set", f"{key}={value}"]
    assert main([command, *export_format, *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        f"critmix {command}: config error: {key}: {value} must be at least {least} ("
    )
    assert len(error.splitlines()) == 1 and not run.exists()
