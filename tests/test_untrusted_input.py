"""Nothing unpickles or evaluates data that may come from users, input files or checkpoints."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAFE = re.compile(r"weights_only=True|Loader=.*SafeLoader")
RISKY = re.compile(
    r"pickle\.loads?\(|dill\.loads?\(|[^.\w]eval\(|[^.\w]exec\(|yaml\.load\(|torch\.load\("
)
# The executor that the main process pickled itself, read by its own task process from the pipe between them
# (what multiprocessing does with every task); never from a file.
OWN_PIPE = {"pipeline/executors/local.py: return dill.loads(pickled_executor)._run_for_rank(rank)"}


def test_no_unsafe_deserialization_in_the_packages():
    offenders = []
    for path in sorted(REPO.glob("*/**/*.py")):
        if path.parts[len(REPO.parts)] not in ("core", "pipeline", "stages", "trainer"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if (
                RISKY.search(line)
                and not SAFE.search(line)
                and f"{path.relative_to(REPO)}: {line.strip()}" not in OWN_PIPE
            ):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, (
        "unsafe loading (use yaml.safe_load, torch.load(weights_only=True)):\n"
        + "\n".join(offenders)
    )
