"""A generated corpus of plain words and ``critmix curate`` on it as a process of its own (to be killed)."""

import json
import random
import subprocess
import sys

WORDS = "river mill market farmer letter garden lake spring bread wheel water morning house children".split()


def write_corpus(root, files=8, docs=400):
    rng = random.Random(0)
    root.mkdir(parents=True)
    for f in range(files):
        with (root / f"part{f}.jsonl").open("w") as handle:
            for d in range(docs):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 400)))
                handle.write(json.dumps({"text": text if d % 10 else "duplicate text"}) + "\n")


def curate_process(run, corpus, cwd, *options):
    """Start ``critmix curate`` in its own session (process group); its stderr goes to ``<run>.log``."""
    cmd = [
        sys.executable,
        "-m",
        "pipeline",
        "curate",
        "--config",
        "tests/data/tiny/config.yaml",
        "--run",
        str(run),
        "--set",
        "sources=[]",
        "--source",
        f"synthetic:general:{corpus}/*.jsonl",
        "--set",
        "curate.tasks=8",
        "--set",
        "curate.quality.enabled=false",
        *options,
    ]  # the synthetic corpus has no reference set
    log = open(f"{run}.log", "ab")
    return subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
    )
