"""Buckets: a quality tier from per-domain quantiles of ``quality_score`` and a length bucket.

Tiers are relative within a domain (a legal text is compared with other legal texts, never with
Wikipedia), so every domain gets about the same share of documents per tier. Three phases of
executor tasks: each input file's scores, sorted, per domain (sorted runs: a mergeable summary);
one task that finds the exact quantiles by selecting order statistics across the runs (memory:
one memory map per run, not the scores); and the rewrite per file. The edges per domain are
written to ``<out_dir>/edges.json`` for the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import ConfigError
from core.files import finished_files, save_array, write_json
from stages.rewrite import rewrite_work_files
from stages.schema import UNSCORED_TIER
from stages.tasks import Phase, StageDirs, my_share, run_inline

STAGE = "buckets"
EDGES_FILE = "edges.json"


@dataclass
class BucketConfig:
    tiers: list[str] = field(default_factory=lambda: ["low", "mid", "high"])
    tier_quantiles: list[float] = field(
        default_factory=lambda: [1 / 3, 2 / 3]
    )  # one fewer than tiers
    length_buckets: list[str] = field(default_factory=lambda: ["short", "medium", "long"])
    length_edges: list[int] = field(default_factory=lambda: [256, 2048])  # in estimated tokens

    def check(self) -> None:
        if (
            len(self.tier_quantiles) != len(self.tiers) - 1
            or sorted(self.tier_quantiles) != self.tier_quantiles
        ):
            raise ConfigError(
                f"curate.buckets.tier_quantiles must be {len(self.tiers) - 1} increasing values for tiers "
                f"{self.tiers}, got {self.tier_quantiles}"
            )
        if (
            len(self.length_edges) != len(self.length_buckets) - 1
            or sorted(self.length_edges) != self.length_edges
        ):
            raise ConfigError(
                f"curate.buckets.length_edges must be {len(self.length_buckets) - 1} increasing token counts "
                f"for buckets {self.length_buckets}, got {self.length_edges}"
            )


def write_score_runs(path: Path, runs_dir: Path) -> None:
    """One input file's scores, sorted, per domain: ``<runs_dir>/domain=<d>/<file>.npy``."""
    table = pq.read_table(path, columns=["domain", "quality_score"])
    table = table.filter(pc.is_valid(table["quality_score"]))
    for domain in pc.unique(table["domain"]).to_pylist():
        scores = np.sort(
            table.filter(pc.equal(table["domain"], domain))["quality_score"].to_numpy()
        )
        save_array(
            Path(runs_dir) / f"domain={domain}" / f"{path.stem}.npy", scores.astype(np.float32)
        )


def order_statistic(runs: list[np.ndarray], k: int) -> np.float32:
    """The k-th smallest (from 0) of the values in sorted float32 runs of non-negative numbers.

    Non-negative floats sort as their bit patterns do, so a binary search over the 32-bit
    patterns, counting with ``searchsorted`` in every run, finds it in 32 steps.
    """
    bits = [run.view(np.uint32) for run in runs]
    low, high = 0, 2**32 - 1
    while low < high:
        middle = (low + high) // 2
        if sum(int(np.searchsorted(b, np.uint32(middle), side="right")) for b in bits) > k:
            high = middle
        else:
            low = middle + 1
    return np.array([low], np.uint32).view(np.float32)[0]


def quantile(runs: list[np.ndarray], q: float) -> float:
    """``np.quantile`` (linear) of the concatenated runs, from the two order statistics around it."""
    n = sum(len(run) for run in runs)
    position = (n - 1) * q
    below = int(np.floor(position))
    pair = np.array(
        [order_statistic(runs, below), order_statistic(runs, min(below + 1, n - 1))], np.float32
    )
    return float(np.float32(np.quantile(pair, position - below)))


def tier_edges(runs_dir: Path, config: BucketConfig) -> dict[str, list[float]]:
    """Per domain, the score quantiles that separate the tiers (domains with no scores are left out)."""
    edges = {}
    for domain_dir in sorted(Path(runs_dir).glob("domain=*")):
        runs = [np.load(p, mmap_mode="r") for p in finished_files(domain_dir, "*.npy")]
        edges[domain_dir.name.removeprefix("domain=")] = [
            quantile(runs, q) for q in config.tier_quantiles
        ]
    return edges


def tied_tiers(edges: dict[str, list[float]], tiers: list[str]) -> list[str]:
    """A line for each domain whose tier edges tie (equal neighbours, or at a score's end, 0 or 1): its tiers are
    then split by tied scores, not by quality, which is what a classifier trained on the domain itself gives."""
    lines = []
    for domain, cuts in sorted(edges.items()):
        if any(a == b for a, b in zip(cuts, cuts[1:])) or any(c >= 1.0 or c <= 0.0 for c in cuts):
            lines.append(
                f"domain {domain}: the quality tier edges {', '.join(f'{c:.3f}' for c in cuts)} tie, so its "
                f"tiers ({', '.join(tiers)}) are split by tied scores, not by quality; set "
                f"curate.quality.positives to reference text other than the tiered domains themselves"
            )
    return lines


def bucket_names(values: np.ndarray, edges: list, names: list[str]) -> pa.Array:
    """Bucket names for values: ``names[i]`` where ``edges[i-1] <= value < edges[i]``."""
    return pa.array(
        np.array(names, dtype=object)[np.searchsorted(edges, values, side="right")], pa.string()
    )


def assign_buckets(
    table: pa.Table, edges: dict[str, list[float]], config: BucketConfig
) -> pa.Table:
    lengths = bucket_names(
        table["n_tokens_est"].to_numpy(), config.length_edges, config.length_buckets
    )
    tiers: list[str | None] = [None] * table.num_rows
    scores, domains = table["quality_score"].to_pylist(), table["domain"].to_pylist()
    for i, (score, domain) in enumerate(zip(scores, domains)):
        if score is not None and domain in edges:
            tiers[i] = config.tiers[
                int(np.searchsorted(edges[domain], np.float32(score), side="right"))
            ]
    table = table.set_column(
        table.schema.get_field_index("length_bucket"), "length_bucket", lengths
    )
    return table.set_column(
        table.schema.get_field_index("quality_tier"), "quality_tier", pa.array(tiers, pa.string())
    )


def phases(dirs: StageDirs, config: BucketConfig, tasks: int) -> list[Phase]:
    runs_dir, edges_path = dirs.scratch / "scores", Path(dirs.out) / EDGES_FILE
    config.check()

    def sort_scores(rank: int, world_size: int) -> dict:
        for path in my_share(dirs.input_files(), rank, world_size):
            write_score_runs(path, runs_dir)
        return {}

    def find_edges(rank: int, world_size: int) -> dict:
        write_json(edges_path, {"tiers": config.tiers, "edges": tier_edges(runs_dir, config)})
        return {}

    def assign(rank: int, world_size: int) -> dict:
        edges = json.loads(edges_path.read_text())["edges"]
        files = my_share(dirs.input_files(), rank, world_size)
        rewrite_work_files(
            files,
            dirs,
            STAGE,
            lambda path: lambda table: (assign_buckets(table, edges, config), None),
        )
        return bucket_counts([Path(dirs.out) / p.name for p in files])

    return [
        Phase(f"{STAGE}/scores", sort_scores, tasks),
        Phase(f"{STAGE}/edges", find_edges, 1),
        Phase(f"{STAGE}/assign", assign, tasks),
    ]


def run_buckets(dirs: StageDirs, config: BucketConfig, tasks: int = 2) -> dict:
    """Set ``quality_tier`` and ``length_bucket`` on every document; counters are docs per bucket."""
    return run_inline(phases(dirs, config, tasks))


def bucket_counts(paths: list[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in paths:
        if not path.exists():
            continue
        table = pq.read_table(path, columns=["domain", "quality_tier", "length_bucket"])
        for d, q, n in zip(*(table[c].to_pylist() for c in table.column_names)):
            key = f"{d}/{q or UNSCORED_TIER}/{n}"
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
