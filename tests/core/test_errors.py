"""What each kind of error becomes on the command line: a message that says what to do, and an exit code."""

import errno

import pytest

from core.errors import ConfigError, CritmixError, exit_code


def raising(err):
    def work():
        raise err

    return work


def test_a_config_error_exits_2_naming_the_command(capsys):
    assert exit_code(raising(ConfigError("optim.lr: expected float")), "critmix train") == 2
    assert capsys.readouterr().err == "critmix train: config error: optim.lr: expected float\n"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_an_unwritable_output_exits_1_and_says_how_to_resume(capsys, code):
    assert exit_code(raising(OSError(code, "boom", "/out/x")), "prog") == 1
    assert "run the same command again to resume" in capsys.readouterr().err


def test_critmix_errors_are_messages_and_anything_else_keeps_its_traceback(capsys):
    assert exit_code(raising(CritmixError("run `make plan` first")), "prog") == 1
    assert capsys.readouterr().err == "prog: run `make plan` first\n"
    with pytest.raises(RuntimeError):  # from torch, datatrove, Ray or our own code: a bug
        exit_code(raising(RuntimeError("a bug")), "prog")
    with pytest.raises(FileNotFoundError):  # a missing input is not an output problem
        exit_code(raising(FileNotFoundError(errno.ENOENT, "gone")), "prog")


def test_success_is_0():
    assert exit_code(lambda: None, "prog") == 0
