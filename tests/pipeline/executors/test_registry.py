"""The executor table is the one place an executor is named: the config and the CLI read it."""

import pytest

from core.errors import ConfigError
from pipeline.cli import build_parser
from pipeline.config import load_config
from pipeline.executors import EXECUTORS, Executor
from tests.conftest import TINY_CONFIG


def curate_choices() -> list[str]:
    parser = build_parser()
    curate = parser._subparsers._group_actions[0].choices["curate"]
    return next(a.choices for a in curate._actions if a.dest == "executor")


def test_the_config_and_the_cli_accept_exactly_the_registered_executors():
    assert list(curate_choices()) == list(EXECUTORS)
    for name in EXECUTORS:
        assert load_config(TINY_CONFIG, [f"curate.executor={name}"]).curate.executor == name


def test_an_unregistered_executor_is_a_config_error_naming_the_registered_ones():
    with pytest.raises(
        ConfigError,
        match=r"curate.executor: 'kubernetes' is not one of \['local', 'ray', 'slurm'\]",
    ):
        load_config(TINY_CONFIG, ["curate.executor=kubernetes"])


def test_a_registered_executor_is_what_a_curate_runs_on(monkeypatch, tmp_path):
    from pipeline.config import CurateConfig
    from pipeline.executors import make_executor

    built = []
    monkeypatch.setitem(
        EXECUTORS, "recorder", Executor(lambda *args: built.append(args) or "built")
    )
    assert make_executor(CurateConfig(executor="recorder"), [], tmp_path, 3) == "built"
    assert built[0][2:] == (tmp_path, 3, "critmix")
