"""critmix's own errors, and what they become on both command lines (``critmix`` and
``python -m trainer``): one line on stderr and an exit code.

``CritmixError`` is an error the user can fix, whose message says how; ``ConfigError`` is one in the
config. Any other exception (from torch, datatrove, Ray, or a RuntimeError of our own) is a bug and
keeps its traceback. This module is the lowest layer: it imports nothing of critmix."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path


class CritmixError(Exception):
    """An error the user can fix; the message says what to do next."""


class ConfigError(CritmixError):
    """A config key or value the user must fix; the message says how."""


class Terminated(Exception):
    """SIGTERM reached the command; the message says what was saved and how to resume."""


# Errors of the output location that the user can fix and then resume from.
OUTPUT_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


def exit_code(work: Callable[[], int | None], prog: str) -> int:
    """Run ``work``. A config error exits 2; any other ``CritmixError``, or a full or unwritable output,
    exits 1; SIGTERM exits 143, Ctrl-C 130 and a closed stdout (``| head``) 141, as the shell reports them. Anything else
    is a bug and keeps its traceback."""
    try:
        return work() or 0
    except Terminated as err:
        print(f"{prog}: terminated; {err}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader has gone (`critmix sql ... | head`): say nothing, and keep Python's exit-time flush of
        # stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except ConfigError as err:
        print(f"{prog}: config error: {err}", file=sys.stderr)
        return 2
    except CritmixError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if err.errno not in OUTPUT_ERRORS:
            raise
        print(
            f"{prog}: cannot write output: {err}. Nothing partial was kept under a final name; free disk space "
            "or fix the permissions, then run the same command again to resume.",
            file=sys.stderr,
        )
        return 1


def create_output_dir(path: Path, option: str) -> None:
    """``mkdir -p`` with an error that names the option when the path cannot be a directory."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(
            f"{option} {path}: it or one of its parents is a file, not a directory; "
            f"pass {option} a directory path"
        ) from None
