"""Curation at scale: wall time, CPU share and memory of ``critmix curate`` on synthetic corpora, and
datatrove's own pipeline on the smallest one.

Per size: the corpus (``scale_corpus.py``) is curated with 1 and 2 workers; each run prints its wall time,
the main process's share of all CPU time, the main process's peak RSS, the largest peak RSS of any worker
process (which runs many tasks, so this is the largest over them) and of any one task, with its phase, and
per phase its largest task's peak RSS and its slowest task's seconds (each task logs both as it ends).
Every process's CPU time and peak RSS (VmHWM) are sampled from /proc while it runs.

The single-file case: the web documents in one JSONL file (``--one-file-docs``; 950k make about 1.1 GB),
curated with 1 and 2 workers and the tasks of the other sizes (``tasks_for``), so that ingest cuts the file
into that many byte ranges (before, a file was one task whatever the task count); the shards must be
byte-identical. (With as many tasks as workers, ingest writes full 128 MiB work files, and a rewrite task
holding one such file peaks near 0.9 GiB.)

Then datatrove's pipeline, stock settings, on the smallest corpus with the same 2 workers and
tasks: JsonlReader -> LanguageFilter -> GopherRepetition/GopherQuality/C4Quality/FineWebQuality
filters -> JsonlWriter, then its four MinHash steps (signatures, buckets, cluster, filter ->
writer). datatrove's LanguageFilter would download lid.176.bin; with no network it is given the
lid.176.ftz that critmix uses, under the name it looks for. Last, the per-core rate measured at the
largest size, turned into hours for 1 TB (~700M documents) on 64 and 1,000 cores.

    make bench BENCH=scale BENCH_ARGS="--sizes 100000 400000 1600000"
    make bench BENCH=scale BENCH_ARGS="--sizes --one-file-docs 950000"    # the single-file case alone
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scale_corpus import make_corpus  # noqa: E402 - the bench directory is on the path when run

from stages.memory import peak_rss  # noqa: E402 - after the repository is on the path

TB_DOCS = 700_000_000


class TreeSampler:
    """Samples a process and its descendants from /proc: each one's last CPU time and peak RSS."""

    def __init__(self, pid: int):
        import psutil

        self.root = psutil.Process(pid)
        self.cpu: dict[int, float] = {}
        self.peak: dict[int, int] = {}
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        import psutil

        while self.running:
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for proc in procs:
                try:
                    times = proc.cpu_times()
                    self.cpu[proc.pid] = times.user + times.system
                    self.peak[proc.pid] = max(self.peak.get(proc.pid, 0), peak_rss(proc.pid))
                except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
                    pass
            time.sleep(0.1)

    def stop(self) -> None:
        self.running = False
        self.thread.join()


# The main process reports its own CPU time and peak RSS as it exits (the sampler may miss its last moments).
# The peak is VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of a process that
# once held 2 GB (this bench, building a corpus) reports 2 GB however little it used itself.
WRAPPER = """import json, resource, sys
from pipeline.cli import main
from stages.memory import peak_rss
code = main(sys.argv[1:])
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu": usage.ru_utime + usage.ru_stime, "peak_rss": peak_rss()}), file=sys.stderr)
sys.exit(code)
"""


def measured(command: list[str], log: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        code = proc.wait()
    wall = time.perf_counter() - started
    sampler.stop()
    if code != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed (exit {code}); see {log}")
    others = {pid: cpu for pid, cpu in sampler.cpu.items() if pid != proc.pid}
    return {
        "wall": wall,
        "main_cpu": sampler.cpu.get(proc.pid, 0.0),
        "other_cpu": sum(others.values()),
        "main_peak": sampler.peak.get(proc.pid, 0),
        "task_peak": max((v for p, v in sampler.peak.items() if p != proc.pid), default=0),
    }


def ours(corpus: Path, root: Path, workers: int, tasks: int) -> dict:
    run = root / f"run-{corpus.name}-w{workers}"
    shutil.rmtree(run, ignore_errors=True)
    recipe = root / "scale.yaml"
    recipe.write_text(
        json.dumps(
            {
                "name": "scale",
                "sources": [
                    {
                        "name": "reference",
                        "domain": "general",
                        "paths": [f"{corpus}/reference/*.jsonl"],
                        "format": "jsonl",
                    },
                    {
                        "name": "web",
                        "domain": "general",
                        "paths": [f"{corpus}/web/*.jsonl"],
                        "format": "jsonl",
                    },
                ],
                "curate": {
                    "tasks": tasks,
                    "workers": workers,
                    "quality": {
                        "positives": ["reference"],
                        "negative_paths": [f"{corpus}/spam.jsonl"],
                    },
                },
            }
        )
    )
    command = [sys.executable, "-c", WRAPPER, "curate", "--config", str(recipe), "--run", str(run)]
    result = measured(command, root / f"{run.name}.log")
    main_line = [
        line
        for line in (root / f"{run.name}.log").read_text().splitlines()
        if line.startswith('{"cpu"')
    ][-1]
    exact = json.loads(main_line)
    result["main_cpu"], result["main_peak"] = exact["cpu"], exact["peak_rss"]
    result["shards"] = json.loads((run / "manifest.json").read_text())["stages"]["shards"][
        "outputs"
    ]
    result["phases"] = task_measures(run / "logs")
    result["largest_task"] = largest_task(result["phases"])
    shutil.rmtree(run / "work", ignore_errors=True)  # keep shards, free the disk
    return result


DATATROVE = """import os, sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.pipeline.filters import (LanguageFilter, GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter,
                                        FineWebQualityFilter)
from datatrove.pipeline.dedup import MinhashDedupSignature, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter
from datatrove.pipeline.dedup.minhash import MinhashConfig

corpus, out, tasks, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
config = MinhashConfig()


def run(pipeline, name, n=tasks):
    LocalPipelineExecutor(pipeline, tasks=n, workers=min(workers, n), logging_dir=f"{out}/logs/{name}").run()


if __name__ == "__main__":
    # The two sources' files, not the spam e-mails.
    run([JsonlReader(corpus, glob_pattern="*/*.jsonl"), LanguageFilter(), GopherRepetitionFilter(), GopherQualityFilter(),
         C4QualityFilter(), FineWebQualityFilter(), JsonlWriter(f"{out}/filtered")], "filter")
    run([JsonlReader(f"{out}/filtered"), MinhashDedupSignature(output_folder=f"{out}/signatures", config=config)], "signatures")
    run([MinhashDedupBuckets(input_folder=f"{out}/signatures", output_folder=f"{out}/buckets", config=config)], "buckets",
        config.num_buckets)
    run([MinhashDedupCluster(input_folder=f"{out}/buckets", output_folder=f"{out}/remove_ids", config=config)], "cluster", 1)
    run([JsonlReader(f"{out}/filtered"), MinhashDedupFilter(input_folder=f"{out}/remove_ids"), JsonlWriter(f"{out}/output")],
        "dedup")
"""


def place_language_model() -> Path:
    """The lid.176.ftz we ship, where datatrove's LanguageFilter (FT176LID) looks before downloading, with the
    ``.completed`` marker datatrove writes after a download; returns the path."""
    from datatrove.io import cached_assets_path, strip_protocol
    from datatrove.utils.lid import FT176LID

    from stages.ingest.langid import shipped_model_path

    assets = Path(
        cached_assets_path(
            library_name="datatrove", namespace="lid", subfolder=FT176LID.MODEL_SUBFOLDER
        )
    )
    target = assets / strip_protocol(FT176LID.MODEL_URL).replace("/", "_")
    if not target.exists():
        shutil.copyfile(shipped_model_path(), target)
    Path(f"{target}.completed").touch()
    return target


def datatrove(corpus: Path, root: Path, workers: int, tasks: int) -> dict:
    """datatrove's pipeline; its LanguageFilter finds the lid.176.ftz we ship under the name it would download."""
    place_language_model()
    out = root / f"datatrove-{corpus.name}"
    shutil.rmtree(out, ignore_errors=True)
    script = root / "datatrove_pipeline.py"
    script.write_text(DATATROVE)
    result = measured(
        [sys.executable, str(script), str(corpus), str(out), str(tasks), str(workers)],
        root / f"{out.name}.log",
    )
    shutil.rmtree(out, ignore_errors=True)
    return result


TASK_LINE = re.compile(r"- (\S+) task (\d+): peak RSS (\d+) MiB, ([\d.]+) s")


def task_measures(logs: Path) -> dict[str, list[tuple[int, float, int]]]:
    """Per phase, every task's (peak RSS in bytes, seconds, rank), from the line each task logs as it ends."""
    phases: dict[str, list[tuple[int, float, int]]] = {}
    for log in sorted(logs.glob("**/logs/task_*.log")):
        for m in TASK_LINE.finditer(log.read_text(errors="replace")):
            phases.setdefault(m[1], []).append((int(m[3]) * 2**20, float(m[4]), int(m[2])))
    return phases


def largest_task(phases: dict[str, list[tuple[int, float, int]]]) -> tuple[int, str]:
    """(peak RSS in bytes, "phase task N") of the task that needed the most memory."""
    return max(
        (
            (peak, f"{phase} task {rank}")
            for phase, tasks in phases.items()
            for peak, _, rank in tasks
        ),
        default=(0, "none"),
    )


def print_phases(phases: dict[str, list[tuple[int, float, int]]]) -> None:
    """Per phase: its largest task by peak RSS and its slowest task by seconds."""
    for phase, tasks in phases.items():
        peak, _, peak_rank = max(tasks)
        _, seconds, slow_rank = max(tasks, key=lambda t: t[1])
        print(
            f"{'':>9}   {phase:<22} {len(tasks):>3} tasks  largest {gib(peak)} GiB (task {peak_rank})  "
            f"slowest {seconds:.1f} s (task {slow_rank})",
            flush=True,
        )


def gib(n: float) -> str:
    return f"{n / 2**30:.2f}"


def row(size: int, workers: int, r: dict) -> str:
    share = r["main_cpu"] / max(1e-9, r["main_cpu"] + r["other_cpu"])
    return (
        f"{size:>9} {workers:>7} {r['wall']:>8.1f} {r['main_cpu'] + r['other_cpu']:>8.1f} {100 * share:>8.1f}% "
        f"{gib(r['main_peak']):>9} {gib(r['task_peak']):>10} "
        + (
            f"{gib(r['largest_task'][0]):>8}  {r['largest_task'][1]}"
            if "largest_task" in r
            else f"{'':>8}  (not measured)"
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 400_000, 1_600_000])
    parser.add_argument(
        "--one-file-docs",
        type=int,
        default=950_000,
        help="documents of the single-file case (950k: a web JSONL of about 1.1 GB); 0 skips it",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--root", type=Path, default=Path("/tmp/critmix-bench-scale"))
    parser.add_argument("--no-datatrove", action="store_true", help="skip datatrove's pipeline")
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    print(
        f"{'docs':>9} {'workers':>7} {'wall s':>8} {'cpu s':>8} {'main cpu':>9} {'main GiB':>9} {'worker GiB':>10} {'task GiB':>8}  largest task",
        flush=True,
    )
    results = {}
    for size in args.sizes:
        tasks = tasks_for(size)
        results[size] = compare_workers(make_corpus(args.root, size), args, lambda _, n=tasks: n)
    if args.one_file_docs:
        one_file(args)
    if not args.sizes:
        return
    smallest, most = min(args.sizes), max(args.workers)
    if not args.no_datatrove:
        ours_there = results[smallest][most]
        theirs = datatrove(make_corpus(args.root, smallest), args.root, most, tasks_for(smallest))
        print(row(smallest, most, theirs) + "  <- datatrove", flush=True)
        print(
            f"ours vs datatrove end to end, {smallest} docs, {most} workers: "
            f"{theirs['wall'] / ours_there['wall']:.2f}x faster (wall), "
            f"{(theirs['main_cpu'] + theirs['other_cpu']) / (ours_there['main_cpu'] + ours_there['other_cpu']):.2f}x less CPU"
        )
    largest = max(args.sizes)
    r = results[largest][most]
    cpu_per_doc = (r["main_cpu"] + r["other_cpu"]) / largest
    print(
        f"per-core rate at {largest} docs: {1 / cpu_per_doc:.0f} docs/s/core; 1 TB (~{TB_DOCS / 1e6:.0f}M docs) at that rate, "
        f"perfectly parallel: {TB_DOCS * cpu_per_doc / 64 / 3600:.1f} h on 64 cores, {TB_DOCS * cpu_per_doc / 1000 / 3600:.2f} h on 1,000"
    )


def tasks_for(docs: int) -> int:
    """Tasks a phase for a corpus of ``docs`` documents: about 25k documents a task, 8 at least."""
    return max(8, docs // 25_000)


def compare_workers(corpus: Path, args, tasks_for) -> dict[int, dict]:
    """Curate ``corpus`` once per worker count (``tasks_for(workers)`` tasks a phase): a row and the per-phase
    lines for each, then whether the shards are byte-identical across the runs."""
    size = int(corpus.name.split("-")[1])
    runs = {}
    for workers in args.workers:
        runs[workers] = ours(corpus, args.root, workers, tasks_for(workers))
        print(row(size, workers, runs[workers]), flush=True)
        print_phases(runs[workers]["phases"])
    sums = [r["shards"] for r in runs.values()]
    print(
        f"{'':>9} shards identical across the runs: {all(s == sums[0] for s in sums)}", flush=True
    )
    return runs


def one_file(args) -> None:
    """One large web JSONL (and one reference file), curated with each worker count: ingest reads it in byte
    ranges, a task each. The shards must not change."""
    corpus = make_corpus(args.root, args.one_file_docs, docs_per_file=args.one_file_docs)
    web = next((corpus / "web").glob("*.jsonl"))
    tasks = tasks_for(args.one_file_docs)
    print(f"single file: {web} ({web.stat().st_size / 2**30:.2f} GiB), {tasks} tasks", flush=True)
    runs = compare_workers(corpus, args, lambda _: tasks)
    first, last = min(args.workers), max(args.workers)
    print(
        f"single file: {last} workers {runs[first]['wall'] / runs[last]['wall']:.2f}x the speed of {first}; "
        f"largest task peak {gib(max(r['largest_task'][0] for r in runs.values()))} GiB",
        flush=True,
    )


if __name__ == "__main__":
    main()
