"""Curation at scale: wall time, CPU share and memory of ``critmix curate`` on synthetic corpora, and
datatrove's own pipeline on the smallest one.

Per size: the corpus (English-like prose in lines of sentences, 10% of it a reference source for the
quality model, 3% exact copies and 5% near-duplicates) is curated with 1 and 2 workers; each run
prints its wall time, the main process's share of all CPU time, the main process's peak RSS, the
largest peak RSS of any worker process (which runs many tasks, so this is the largest over them)
and of any one task, with its phase (each task logs its own peak). Every process's CPU time and
peak RSS (VmHWM) are sampled from /proc while it runs.

Then datatrove's pipeline, stock settings, on the smallest corpus with the same 2 workers and
tasks: JsonlReader -> LanguageFilter -> GopherRepetition/GopherQuality/C4Quality/FineWebQuality
filters -> JsonlWriter, then its four MinHash steps (signatures, buckets, cluster, filter ->
writer). datatrove's LanguageFilter would download lid.176.bin; with no network it is given the
lid.176.ftz that critmix uses, under the name it looks for. Last, the per-core rate measured at the
largest size, turned into hours for 1 TB (~700M documents) on 64 and 1,000 cores.

    make bench BENCH=scale BENCH_ARGS="--sizes 100000 400000 1600000"
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stages.tasks import peak_rss  # noqa: E402 - after the repository is on the path

STOP = "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they".split()
CONTENT = (
    "river valley settlement century scholars architecture language trade region evidence survey village market "
    "farmer letter garden lake spring bread wheel water morning house children committee records history city "
    "road bridge harbour ship merchant winter summer field forest mountain church school teacher student book "
    "paper report council family friend journey letter story music painting science engine railway station "
    "island coast weather harvest grain cattle mill factory worker street window table kitchen evening night "
    "described examined compared grew built opened carried reached followed noticed returned explained written "
    "old new small large early late careful quiet long short bright dark northern southern local public"
).split()
SPAM = "click here now to win free money cheap pills buy today limited offer act fast guaranteed cash prize claim reward".split()
TB_DOCS = 700_000_000
DOCS_PER_FILE = 10_000


def sentences(rng: np.random.Generator, n_words: int) -> str:
    """Lines of sentences with stop words mixed in, as the heuristic filters expect of prose."""
    vocabulary = np.array(STOP + CONTENT)
    weights = np.r_[np.full(len(STOP), 3.0), np.ones(len(CONTENT))]
    chosen = vocabulary[rng.choice(len(vocabulary), n_words, p=weights / weights.sum())]
    lines, start = [], 0
    while start < n_words:
        line = []
        for _ in range(int(rng.integers(2, 5))):
            length = int(rng.integers(8, 18))
            words = chosen[start : start + length]
            if len(words):
                line.append(" ".join(words).capitalize() + ".")
            start += length
        lines.append(" ".join(line))
    return "\n".join(lines)


def make_corpus(root: Path, docs: int, seed: int = 0) -> Path:
    """``docs`` documents in JSONL files under ``root/corpus`` (kept between runs), and spam e-mails."""
    corpus = root / f"corpus-{docs}"
    if (corpus / "done").exists():
        return corpus
    shutil.rmtree(corpus, ignore_errors=True)
    (corpus / "web").mkdir(parents=True)
    (corpus / "reference").mkdir()
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for _ in range(docs):
        roll = rng.random()
        if texts and roll < 0.03:
            texts.append(texts[int(rng.integers(len(texts)))])
        elif texts and roll < 0.08:
            words = texts[int(rng.integers(len(texts)))].split(" ")
            for j in rng.integers(0, len(words), max(1, len(words) // 30)):
                words[j] = str(rng.choice(CONTENT))
            texts.append(" ".join(words))
        else:
            texts.append(sentences(rng, int(rng.integers(80, 350))))
    for part, (first, last) in (("reference", (0, docs // 10)), ("web", (docs // 10, docs))):
        for start in range(first, last, DOCS_PER_FILE):
            with (corpus / part / f"part-{start // DOCS_PER_FILE:05d}.jsonl").open("w") as handle:
                for i in range(start, min(last, start + DOCS_PER_FILE)):
                    handle.write(json.dumps({"id": f"doc-{i:08d}", "text": texts[i]}) + "\n")
    with (corpus / "spam.jsonl").open("w") as handle:
        for i in range(3000):
            handle.write(
                json.dumps({"id": f"spam-{i}", "text": " ".join(rng.choice(SPAM, 60)) + "."}) + "\n"
            )
    (corpus / "done").touch()
    return corpus


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
from stages.tasks import peak_rss
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
    result["largest_task"] = largest_task(run / "logs")
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


TASK_PEAK = re.compile(r"- (\S+) task (\d+): peak RSS (\d+) MiB")


def largest_task(logs: Path) -> tuple[int, str]:
    """(peak RSS in bytes, "phase task N") of the task that needed the most memory, from the task logs."""
    peaks = [
        (int(m[3]) * 2**20, f"{m[1]} task {m[2]}")
        for log in logs.glob("**/logs/task_*.log")
        for m in TASK_PEAK.finditer(log.read_text(errors="replace"))
    ]
    return max(peaks, default=(0, "none"))


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
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000, 1_600_000])
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
        corpus = make_corpus(args.root, size)
        tasks = max(8, size // 25_000)
        for workers in args.workers:
            results[size, workers] = ours(corpus, args.root, workers, tasks)
            print(row(size, workers, results[size, workers]), flush=True)
        sums = [results[size, w]["shards"] for w in args.workers]
        print(
            f"{'':>9} shards identical across worker counts: {all(s == sums[0] for s in sums)}",
            flush=True,
        )
    smallest, most = min(args.sizes), max(args.workers)
    if not args.no_datatrove:
        theirs = datatrove(
            make_corpus(args.root, smallest), args.root, most, max(8, smallest // 25_000)
        )
        print(row(smallest, most, theirs) + "  <- datatrove", flush=True)
        print(
            f"ours vs datatrove end to end, {smallest} docs, {most} workers: "
            f"{theirs['wall'] / results[smallest, most]['wall']:.2f}x faster (wall), "
            f"{(theirs['main_cpu'] + theirs['other_cpu']) / (results[smallest, most]['main_cpu'] + results[smallest, most]['other_cpu']):.2f}x less CPU"
        )
    largest = max(args.sizes)
    r = results[largest, most]
    cpu_per_doc = (r["main_cpu"] + r["other_cpu"]) / largest
    print(
        f"per-core rate at {largest} docs: {1 / cpu_per_doc:.0f} docs/s/core; 1 TB (~{TB_DOCS / 1e6:.0f}M docs) at that rate, "
        f"perfectly parallel: {TB_DOCS * cpu_per_doc / 64 / 3600:.1f} h on 64 cores, {TB_DOCS * cpu_per_doc / 1000 / 3600:.2f} h on 1,000"
    )


if __name__ == "__main__":
    main()
