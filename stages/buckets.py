"""Buckets: a quality tier from per-domain quantiles of ``quality_score`` and a length bucket.

Tiers are relative within a domain (a legal text is compared with other legal texts, never with
Wikipedia), so every domain gets about the same share of documents per tier. The edges per domain
are written to ``<out_dir>/edges.json`` for the report. Memory holds one (domain, score) pair per
document.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from stages.files import atomic_write_text
from stages.schema import UNSCORED_TIER
from stages.writers import rewrite_work_files
from trainer.errors import ConfigError

STAGE = "buckets"
EDGES_FILE = "edges.json"


@dataclass
class BucketConfig:
    tiers: list[str] = field(default_factory=lambda: ["low", "mid", "high"])
    tier_quantiles: list[float] = field(default_factory=lambda: [1 / 3, 2 / 3])  # one fewer than tiers
    length_buckets: list[str] = field(default_factory=lambda: ["short", "medium", "long"])
    length_edges: list[int] = field(default_factory=lambda: [256, 2048])  # in estimated tokens

    def check(self) -> None:
        if len(self.tier_quantiles) != len(self.tiers) - 1 or sorted(self.tier_quantiles) != self.tier_quantiles:
            raise ConfigError(f"curate.buckets.tier_quantiles must be {len(self.tiers) - 1} increasing values for tiers "
                             f"{self.tiers}, got {self.tier_quantiles}")
        if len(self.length_edges) != len(self.length_buckets) - 1 or sorted(self.length_edges) != self.length_edges:
            raise ConfigError(f"curate.buckets.length_edges must be {len(self.length_buckets) - 1} increasing token counts "
                             f"for buckets {self.length_buckets}, got {self.length_edges}")


def tier_edges(inputs: list[Path], config: BucketConfig) -> dict[str, list[float]]:
    """Per domain, the score quantiles that separate the tiers (domains with no scores are left out)."""
    scores = pa.concat_tables(pq.read_table(p, columns=["domain", "quality_score"]) for p in inputs)
    scores = scores.filter(pc.is_valid(scores["quality_score"]))
    edges = {}
    for domain in sorted(pc.unique(scores["domain"]).to_pylist()):
        values = scores.filter(pc.equal(scores["domain"], domain))["quality_score"].to_numpy()
        edges[domain] = [float(np.float32(q)) for q in np.quantile(values, config.tier_quantiles)]
    return edges


def bucket_names(values: np.ndarray, edges: list, names: list[str]) -> pa.Array:
    """Bucket names for values: ``names[i]`` where ``edges[i-1] <= value < edges[i]``."""
    return pa.array(np.array(names, dtype=object)[np.searchsorted(edges, values, side="right")], pa.string())


def assign_buckets(table: pa.Table, edges: dict[str, list[float]], config: BucketConfig) -> pa.Table:
    lengths = bucket_names(table["n_tokens_est"].to_numpy(), config.length_edges, config.length_buckets)
    tiers = [None] * table.num_rows
    scores, domains = table["quality_score"].to_pylist(), table["domain"].to_pylist()
    for i, (score, domain) in enumerate(zip(scores, domains)):
        if score is not None and domain in edges:
            tiers[i] = config.tiers[int(np.searchsorted(edges[domain], np.float32(score), side="right"))]
    table = table.set_column(table.schema.get_field_index("length_bucket"), "length_bucket", lengths)
    return table.set_column(table.schema.get_field_index("quality_tier"), "quality_tier", pa.array(tiers, pa.string()))


def run_buckets(inputs: list[Path], out_dir: Path, removed_dir: Path, config: BucketConfig) -> dict:
    """Set ``quality_tier`` and ``length_bucket`` on every document; counters are docs per bucket."""
    config.check()
    edges = tier_edges(inputs, config) if inputs else {}
    edges_json = json.dumps({"tiers": config.tiers, "edges": edges}, indent=2, sort_keys=True)
    atomic_write_text(Path(out_dir) / EDGES_FILE, edges_json)
    rewrite_work_files(inputs, out_dir, removed_dir, STAGE, lambda t: (assign_buckets(t, edges, config), None))
    return bucket_counts(sorted(Path(out_dir).glob("*.parquet")))


def bucket_counts(paths: list[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in paths:
        table = pq.read_table(path, columns=["domain", "quality_tier", "length_bucket"])
        for d, q, n in zip(*(table[c].to_pylist() for c in table.column_names)):
            key = f"{d}/{q or UNSCORED_TIER}/{n}"
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
