"""Fuzzy deduplication with MinHash LSH: a global stage after exact dedup and quality scoring.

Phases, each executor tasks (``phases``), each bounded in memory:
  1. signatures (a task per input file): word n-gram shingles hashed to 64 bits and ``num_perm``
     MinHash values per document, written as .npy under the stage's scratch directory with the
     file's band keys as sorted runs (a run per band of its valid documents' keys and rows);
  2. bands (stages/dedup/lsh.py): a unit of work per (band, key range); documents with equal band keys
     become candidate pairs, each verified on its estimated Jaccard; the verified pairs are
     written as edges, a file per unit;
  3. clusters (one task): a union-find over the edges only; then gather (a task per file) sends
     each clustered document to the task of its cluster's range, and survivors (a task per range)
     picks per cluster the document with the highest quality_score (scored by the stage before),
     then the longest, then the smallest id. ``dup_cluster = "fuzzy:<survivor id>"`` on every member, and each removed
     member keeps its own quality_score and its ``survivor_similarity`` (estimated Jaccard to the
     survivor) in removed/, which is why the survivor won;
  4. rewrite (a task per input file), as every stage does.

Default banding (21 bands x 6 rows = 126 permutations), chosen on the S-curve
P(candidate | J) = 1 - (1 - J^rows)^bands: rows = 6 is the largest row count for which some band
count within 128 permutations reaches P(candidate | 0.8) >= 0.99, and 21 bands use all of the
128 we allow (P = 0.998 at J = 0.8, 0.99995 at 0.85, 0.28 at 0.5, 0.015 at 0.3). Candidates
below the target are cheap because verification throws them away; spare permutations make that
verification sharper. datatrove's 14 x 8 reaches only P = 0.92 at J = 0.8. ``s_curve`` prints it.

Verification uses the signature-estimated Jaccard, not the true one: the true one would need a
second read of every candidate's text with random access across files. With m = 126
permutations the estimate is Binomial(m, J)/m; merging at estimate >= 0.7 leaves a pair of true
J = 0.5 a probability of 2e-6 of being merged (binomial tail, 4.5 sigma), a pair of J = 0.85
one of 1e-5 of being missed, and one of J = 0.8 one of 0.4% (it usually joins its cluster
through another member anyway). A document can be removed only through a verified edge, so a document
whose nearest neighbour is below 0.5 stays unless that tail event happens.

Key ranges: each band's key space is split into ``key_ranges(documents, docs_per_band_task)``
equal slices (stages/tasks.py ``hash_range``), so a unit holds about ``docs_per_band_task``
documents whatever the corpus size; a bucket's members share their key, so they share a range,
and the candidate pairs are exactly those of the whole band (the clusters do not depend on the
range count). Why sorted runs per file rather than signature tasks writing their documents by
range: the range count needs the corpus size, which a signature task does not know (it would have
to read the footer of every input file: quadratic in files), while a bands task does, from the
headers of the signature arrays it maps anyway; and a run sorted by key gives each unit its slice
of a file by binary search. The bands phase has ``max(bands, tasks)`` executor tasks, each doing
the units ``rank::tasks`` one after another, because task counts are fixed before the corpus
exists (a Slurm array job is written for every phase up front); the memory bound is per unit.

Memory ceiling: a bands unit holds ~85 bytes per document of its slice at its peak (key, id hash
and document index, the sort order and the sorted copies, a 4-byte union-find over the slice's
positions, the mapped pages of the runs it reads; measured: 1.6M documents in one range, 133 MiB
over the interpreter's 75), so ``docs_per_band_task`` = 4M bounds a task near 0.4 GiB at any
corpus size (700M documents: 175 ranges per band); a bucket larger than that (one text in
millions of near-copies) is held whole by its unit. Candidate pairs are verified in chunks of
``verify_chunk``; signatures stay on disk (4 x num_perm bytes per document) and are read through
memory maps whose pages are dropped after each read, so a task holds at most one file's
signatures. The clustering task holds the edges only, a survivors task its range's clustered
documents. 1M documents: ~0.5 GB of signatures on disk, well under 1 GB resident per task.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.files import save_array
from stages.dedup.lsh import SignatureRows, band_edges, band_slice, components
from stages.dedup.signatures import MinhashConfig, compute_signatures, mix64, signature_paths
from stages.rewrite import rewrite_work_files, split_removed
from stages.tasks import (
    Phase,
    StageDirs,
    add_counters,
    key_ranges,
    my_share,
    range_files,
    read_tables,
    run_inline,
    write_by_range,
    write_table,
)

STAGE = "minhash"
REASON = "near_duplicate"


def phases(dirs: StageDirs, config: MinhashConfig, tasks: int) -> list[Phase]:
    """signatures (a task per input file) -> bands (a unit per band and key range) -> clusters (one task: the union-find
    over the edges) -> gather (a task per input file: its clustered documents, by cluster range) ->
    survivors (a task per cluster range) -> rewrite (a task per input file)."""
    edges_dir, clusters_path = dirs.scratch / "edges", dirs.scratch / "clusters.npy"
    gathered_dir, decisions_dir = dirs.scratch / "gathered", dirs.scratch / "decisions"

    def paths() -> list[dict[str, Path]]:
        return [signature_paths(dirs.scratch, p, config) for p in dirs.input_files()]

    def signatures(rank: int, world_size: int) -> dict:
        compute_signatures(dirs.input_files(), dirs.scratch, config, rank, world_size)
        return {}

    def bands(rank: int, world_size: int) -> dict:
        counters: dict = {}
        files = paths()
        signatures = SignatureRows(files)
        ranges = key_ranges(signatures.offsets[-1], config.docs_per_band_task)
        for unit in range(
            rank, config.bands * ranges, world_size
        ):  # fewer tasks than units: see "Key ranges"
            band, key_range = unit % config.bands, unit // config.bands
            edges, stats = band_edges(
                *band_slice(files, signatures.offsets, band, key_range, ranges), signatures, config
            )
            save_array(edges_dir / f"band-{band:03d}-range-{key_range:05d}.npy", edges)
            add_counters(counters, stats)
        return counters

    def clusters(rank: int, world_size: int) -> dict:
        edges = [np.load(p) for p in sorted(edges_dir.glob("band-*.npy"))]
        members, roots = components(
            np.concatenate(edges, axis=1) if edges else np.zeros((2, 0), np.int64)
        )
        save_array(clusters_path, np.stack([members, roots]))
        return {"minhash:clusters": len(np.unique(roots))}

    def gather(rank: int, world_size: int) -> dict:
        members, roots = np.load(
            clusters_path, mmap_mode="r"
        )  # a task reads only its files' slices
        inputs, offsets = dirs.input_files(), SignatureRows(paths()).offsets
        for i in my_share(list(range(len(inputs))), rank, world_size):
            lo, hi = np.searchsorted(members, offsets[i : i + 2])
            if hi > lo:
                table = pq.read_table(inputs[i], columns=["id", "quality_score", "n_chars"]).take(
                    pa.array(members[lo:hi] - offsets[i])
                )
                table = table.append_column("index", pa.array(members[lo:hi])).append_column(
                    "root", pa.array(roots[lo:hi])
                )
                table = table.append_column(
                    "file", pa.array([inputs[i].name] * (hi - lo), pa.string())
                )
                cluster_key = pa.array(
                    mix64(roots[lo:hi].astype(np.uint64))
                )  # spreads clusters over the ranges
                write_by_range(
                    table.append_column("cluster_key", cluster_key),
                    "cluster_key",
                    world_size,
                    gathered_dir,
                    inputs[i].name,
                )
        return {}

    def choose(rank: int, world_size: int) -> dict:
        files = range_files(gathered_dir, rank)
        if files:
            decided = survivors(
                pa.concat_tables(pq.read_table(p) for p in files), SignatureRows(paths())
            )
            for name in pc.unique(decided["file"]).to_pylist():
                in_file = (
                    decided.filter(pc.equal(decided["file"], name)).drop(["file"]).sort_by("id")
                )
                write_table(in_file, decisions_dir / Path(name).stem / f"range-{rank:05d}.parquet")
        return {}

    def rewrite(rank: int, world_size: int) -> dict:
        return rewrite_work_files(
            my_share(dirs.input_files(), rank, world_size),
            dirs,
            STAGE,
            lambda path: partial(
                mark_near_duplicates, members=read_tables(decisions_dir / path.stem)
            ),
        )

    return [
        Phase(f"{STAGE}/signatures", signatures, tasks),
        Phase(f"{STAGE}/bands", bands, max(config.bands, tasks)),
        Phase(f"{STAGE}/clusters", clusters, 1),
        Phase(f"{STAGE}/gather", gather, tasks),
        Phase(f"{STAGE}/survivors", choose, tasks),
        Phase(f"{STAGE}/rewrite", rewrite, tasks),
    ]


def survivors(members: pa.Table, signatures: SignatureRows) -> pa.Table:
    """For whole clusters' members: id, file, dup_cluster, whether removed, similarity to the survivor.

    The survivor of a cluster is the member with the highest quality_score, then the longest, then
    the smallest id.
    """
    ranked = members.sort_by(
        [
            ("root", "ascending"),
            ("quality_score", "descending"),
            ("n_chars", "descending"),
            ("id", "ascending"),
        ]
    )
    root = ranked["root"].to_numpy()
    first = np.diff(root, prepend=-1) != 0
    survivor_of = np.flatnonzero(first)[np.cumsum(first) - 1]
    index = ranked["index"].to_numpy()
    similarity = (
        (signatures.take(index) == signatures.take(index[survivor_of]))
        .mean(axis=1)
        .astype(np.float32)
    )
    ids = np.asarray(ranked["id"].to_pylist(), dtype=object)
    return pa.table(
        {
            "id": ranked["id"],
            "file": ranked["file"],
            "fuzzy_cluster": pa.array(["fuzzy:" + s for s in ids[survivor_of]], pa.string()),
            "fuzzy_removed": pa.array(~first),
            "survivor_similarity": pa.array(
                np.where(first, np.nan, similarity), pa.float32(), from_pandas=True
            ),
        }
    )


def mark_near_duplicates(
    table: pa.Table, members: pa.Table | None
) -> tuple[pa.Table, pa.Table | None]:
    if members is None:
        return table, None
    joined = table.join(members, "id", join_type="left outer")
    # A fuzzy cluster replaces an exact one: the exact group's survivor is a member of it, and its
    # removed copies keep "exact:<id>" in removed/, so the chain can still be followed.
    cluster = pc.coalesce(joined["fuzzy_cluster"], joined["dup_cluster"])
    joined = joined.set_column(joined.schema.get_field_index("dup_cluster"), "dup_cluster", cluster)
    kept, removed = split_removed(
        joined,
        pc.fill_null(joined["fuzzy_removed"], False),
        table.column_names + ["survivor_similarity"],
        REASON,
    )
    return kept.drop(["survivor_similarity"]), removed


def run_minhash(dirs: StageDirs, config: MinhashConfig, tasks: int = 2) -> dict[str, int]:
    """The whole stage in this process (tests, benchmarks)."""
    return run_inline(phases(dirs, config, tasks))
