"""Errors a user can fix, turned into one line on stderr and an exit code, for both command lines
(``critmix`` and ``python -m trainer``)."""
from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Callable

from trainer.config import ConfigError

# Errors of the output location that the user can fix and then resume from.
OUTPUT_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


def exit_code(work: Callable[[], int | None], prog: str, fixable: tuple[type[Exception], ...] = ()) -> int:
    """Run ``work``. A config error exits 2; a full or unwritable output, or one of ``fixable`` (whose
    messages say what to do), exits 1. Anything else is a bug and keeps its traceback."""
    try:
        return work() or 0
    except ConfigError as err:
        print(f"{prog}: config error: {err}", file=sys.stderr)
        return 2
    except fixable as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if err.errno not in OUTPUT_ERRORS:
            raise
        print(f"{prog}: cannot write output: {err}. Nothing partial was kept under a final name; free disk space "
              "or fix the permissions, then run the same command again to resume.", file=sys.stderr)
        return 1


def create_output_dir(path: Path, option: str) -> None:
    """``mkdir -p`` with an error that names the option when the path cannot be a directory."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"{option} {path}: it or one of its parents is a file, not a directory; "
                          f"pass {option} a directory path") from None
