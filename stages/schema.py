"""The file contracts between stages: shard and removed-document schemas (see docs/design.md)."""

from __future__ import annotations

import json

import pyarrow as pa

SHARD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("domain", pa.string()),
        ("source", pa.string()),
        ("lang", pa.string()),
        ("lang_score", pa.float32()),
        ("quality_score", pa.float32()),
        ("quality_tier", pa.string()),
        ("length_bucket", pa.string()),
        ("n_chars", pa.int64()),
        ("n_tokens_est", pa.int64()),
        ("dup_cluster", pa.string()),
        ("meta", pa.string()),
    ]
)

# The quality tier (and shard partition ``quality=``) of documents that have no quality score.
UNSCORED_TIER = "unscored"

# Intermediate files between curation stages carry the shard columns plus the exact-dedup key.
WORK_SCHEMA = SHARD_SCHEMA.append(pa.field("text_hash", pa.uint64()))

# A near-duplicate's estimated Jaccard similarity to the survivor of its cluster (null for other removals).
REMOVED_SCHEMA = (
    SHARD_SCHEMA.append(pa.field("stage", pa.string()))
    .append(pa.field("reason", pa.string()))
    .append(pa.field("survivor_similarity", pa.float32()))
)

# Document.metadata keys that map one to one onto shard columns.
METADATA_COLUMNS = [name for name in SHARD_SCHEMA.names if name not in ("id", "text", "meta")]


def estimate_tokens(n_chars: int) -> int:
    """Rough BPE token count: ~4 characters per token for English text."""
    return (n_chars + 3) // 4


def document_row(doc) -> dict:
    """One shard row from a datatrove Document (text, id, metadata)."""
    meta = doc.metadata
    row = {name: meta.get(name) for name in METADATA_COLUMNS}
    row["id"] = doc.id
    row["text"] = doc.text
    row["n_chars"] = len(doc.text)
    row["n_tokens_est"] = estimate_tokens(len(doc.text))
    # Where the document came from travels in `meta` so that `critmix explain` can point at it.
    extra = dict(meta.get("meta") or {}, _origin=meta.get("origin"))
    row["meta"] = json.dumps(extra, sort_keys=True, ensure_ascii=False, default=str)
    return row
