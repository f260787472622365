"""MinHash dedup speed and memory.

1. Signatures on one core: our vectorized hasher vs datasketch ``MinHash(num_perm=128)`` fed the
   same word 5-grams (``update_batch``), both timed from text to signature.
2. Quality on 1,500 synthetic documents: recall of pairs at 5-gram Jaccard >= 0.85 and removed
   documents whose nearest neighbour is below 0.5, ours vs the same hashing with datatrove's
   default 14 x 8 bands and no verification.
3. The whole stage on ``--docs`` synthetic documents (families of near-duplicates, 50-150
   words): signatures in ``--workers`` processes (one task per rank, as an executor would run
   them), then banding, clustering and the rewrite; prints docs/s and the peak RSS of every
   process involved.

    .venv/bin/python bench/bench_minhash.py [--docs 1000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow.parquet as pq  # noqa: E402

from stages.dedup.minhash import run_minhash  # noqa: E402
from stages.dedup.signatures import Hasher, MinhashConfig, compute_signatures, words  # noqa: E402
from stages.tasks import StageDirs  # noqa: E402
from tests.stages.dedup.dedup_synth import (  # noqa: E402
    make_corpus,
    nearest_neighbour_jaccard,
    pairs_above,
    work_table,
)

DOCS_PER_FILE = 100_000
VARIANTS = 3  # near-duplicates per family: a quarter of the corpus is original


def datasketch_signatures(texts: list[str], ngram: int) -> None:
    from datasketch import MinHash

    for text in texts:
        tokens = words(text)
        shingles = {
            " ".join(tokens[i : i + ngram]).encode() for i in range(max(1, len(tokens) - ngram + 1))
        }
        MinHash(num_perm=128).update_batch(shingles)


def ours_signatures(texts: list[str], config: MinhashConfig) -> None:
    hasher = Hasher(config)
    for start in range(0, len(texts), config.batch_docs):
        hasher.signatures(texts[start : start + config.batch_docs])


def best_docs_per_second(work, texts: list[str], *args, rounds: int = 3) -> float:
    """Best of a few rounds: other processes on a shared machine only ever slow a round down."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        work(texts, *args)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def bench_signatures(n_docs: int) -> None:
    config = MinhashConfig()
    texts = [
        d.text for d in make_corpus(n_docs // (VARIANTS + 1), VARIANTS, seed=3, words=(50, 300))
    ]
    ours = best_docs_per_second(ours_signatures, texts, config)
    peer = best_docs_per_second(datasketch_signatures, texts, config.ngram)
    print(
        f"minhash signatures ({config.num_perm} vs 128 permutations, 1 core): "
        f"ours {ours:,.0f} docs/s vs datasketch {peer:,.0f} docs/s = {ours / peer:.2f}×",
        flush=True,
    )


def dedup_quality(docs, config: MinhashConfig, root: Path) -> tuple[float, int]:
    """(recall of pairs at Jaccard >= 0.85, removed documents whose nearest neighbour is < 0.5)."""
    (root / "in").mkdir(parents=True)
    pq.write_table(work_table(docs), root / "in/all.parquet")
    run_minhash(StageDirs(root / "in", root / "out", root / "removed", root / "scratch"), config)
    removed = pq.read_table(
        root / "removed/stage=minhash/all.parquet", columns=["id", "dup_cluster"]
    )
    rows = (
        pq.read_table(root / "out/all.parquet", columns=["id", "dup_cluster"]).to_pylist()
        + removed.to_pylist()
    )
    cluster = {r["id"]: r["dup_cluster"] for r in rows}
    pairs = pairs_above(docs, 0.85)
    recall = sum(cluster[a] is not None and cluster[a] == cluster[b] for a, b in pairs) / len(pairs)
    nearest = nearest_neighbour_jaccard(docs)
    return recall, sum(nearest[i] < 0.5 for i in removed["id"].to_pylist())


def bench_quality() -> None:
    docs = make_corpus(300, 4, seed=11)
    distant = sum(v < 0.5 for v in nearest_neighbour_jaccard(docs).values())
    peer_config = dataclasses.replace(MinhashConfig(), bands=14, rows=8, verify_jaccard=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        ours = dedup_quality(docs, MinhashConfig(), Path(tmp) / "ours")
        peer = dedup_quality(docs, peer_config, Path(tmp) / "peer")
    print(
        f"minhash quality on {len(docs):,} docs ({distant} with nearest neighbour < 0.5): recall at J>=0.85 "
        f"ours {ours[0]:.3f} vs 14x8 unverified {peer[0]:.3f}; removed with nearest neighbour < 0.5: "
        f"ours {ours[1]} vs 14x8 unverified {peer[1]}",
        flush=True,
    )


def write_part(args: tuple[Path, int, int]) -> Path:
    path, n_docs, seed = args
    families = -(-n_docs // (VARIANTS + 1))
    docs = make_corpus(families, VARIANTS, seed=seed, words=(50, 150))[:n_docs]
    pq.write_table(work_table(docs), path, compression="zstd")
    return path


def signature_task(args: tuple[list[Path], Path, int, int]) -> None:
    inputs, work_dir, rank, world_size = args
    compute_signatures(inputs, work_dir, MinhashConfig(), rank, world_size)


def peak_rss_gib() -> float:
    self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kib, children_kib) / 2**20


def bench_stage(n_docs: int, workers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-minhash-") as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        sizes = [min(DOCS_PER_FILE, n_docs - start) for start in range(0, n_docs, DOCS_PER_FILE)]
        parts = [
            (root / f"in/part-{i:04d}.parquet", size, 1000 + i) for i, size in enumerate(sizes)
        ]
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            inputs = pool.map(write_part, parts)
        print(f"  generated {n_docs:,} docs in {time.perf_counter() - started:.0f}s", flush=True)

        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pool.map(
                signature_task,
                [(inputs, root / "scratch", rank, workers) for rank in range(workers)],
            )
        signed = time.perf_counter()
        # The signature phase finds every file signed above and skips it.
        dirs = StageDirs(root / "in", root / "out", root / "removed", root / "scratch")
        counters = run_minhash(dirs, MinhashConfig(), workers)
        done = time.perf_counter()
    print(
        f"  signatures {signed - started:.0f}s ({workers} processes), banding + clusters + rewrite {done - signed:.0f}s; {counters}"
    )
    print(
        f"minhash stage: {n_docs:,} docs in {done - started:.0f}s = {n_docs / (done - started):,.0f} docs/s "
        f"on {workers} cores, peak RSS {peak_rss_gib():.2f} GiB (target <= 4 GiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--docs", type=int, default=1_000_000, help="synthetic documents for the whole-stage run"
    )
    parser.add_argument(
        "--signature-docs",
        type=int,
        default=2000,
        help="documents for the one-core signature comparison (best of 3 rounds)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes for generation and signatures"
    )
    args = parser.parse_args()
    bench_signatures(args.signature_docs)
    bench_quality()
    bench_stage(args.docs, args.workers)


if __name__ == "__main__":
    main()
