"""A tiny synthetic run for the quality, bucket and report tests: reference prose, spam, and mixes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stages.schema import REMOVED_SCHEMA, WORK_SCHEMA, estimate_tokens

PROSE = (
    "the committee examined historical records of the river valley and described how the settlement "
    "grew during the century while scholars compared the architecture language and trade of the region "
    "in careful detail with evidence from later surveys"
).split()
SPAM = (
    "click here now to win free money cheap pills buy today limited offer unsubscribe viagra casino "
    "bonus act fast guaranteed cash prize winner claim your reward urgent"
).split()


def text(rng: random.Random, spam_share: float, n_words: int) -> str:
    words = [rng.choice(SPAM if rng.random() < spam_share else PROSE) for _ in range(n_words)]
    return " ".join(words).capitalize() + "."


def row(doc_id: str, body: str, source: str, domain: str) -> dict:
    return dict(
        {n: None for n in WORK_SCHEMA.names},
        id=doc_id,
        text=body,
        source=source,
        domain=domain,
        n_chars=len(body),
        n_tokens_est=estimate_tokens(len(body)),
        text_hash=hash(body) & (2**63 - 1),
        meta=json.dumps(
            {"_origin": {"file": f"data/{source}.jsonl", "offset": int(doc_id.split("-")[1])}}
        ),
    )


def build(root: Path, seed: int = 0, n: int = 60) -> dict[str, Path]:
    """work/ingest with a reference source ('wikipedia'), a mixed 'forum' domain, spam e-mails and removed docs."""
    rng = random.Random(seed)
    ingest, spam, removed = (
        root / "work/ingest",
        root / "raw/spam",
        root / "removed/stage=heuristics",
    )
    for d in (ingest, spam, removed):
        d.mkdir(parents=True, exist_ok=True)
    wiki = [
        row(f"wiki-{i}", text(rng, 0.0, rng.randint(30, 4000)), "wikipedia", "general")
        for i in range(n)
    ]
    forum = [
        row(f"forum-{i}", text(rng, i / n, rng.randint(30, 600)), "forum", "chat") for i in range(n)
    ]
    for name, rows in (
        ("ingest-00000.parquet", wiki[: n // 2] + forum[: n // 2]),
        ("ingest-00001.parquet", wiki[n // 2 :] + forum[n // 2 :]),
    ):
        pq.write_table(pa.Table.from_pylist(rows, schema=WORK_SCHEMA), ingest / name)
    with (spam / "spam.jsonl").open("w") as handle:
        for i in range(n):
            handle.write(
                json.dumps(
                    {"id": f"spam-{i}", "text": text(rng, 0.95, 80), "meta": {"label": "spam"}}
                )
                + "\n"
            )
    failed = [
        dict(
            row(f"bad-{i}", text(rng, 0.8, 40), "forum", "chat"),
            stage="heuristics",
            reason="gopher:symbol_ratio",
        )
        for i in range(10)
    ]
    pq.write_table(
        pa.Table.from_pylist(
            [{k: r.get(k) for k in REMOVED_SCHEMA.names} for r in failed], schema=REMOVED_SCHEMA
        ),
        removed / "ingest-00000.parquet",
    )
    return {"ingest": ingest, "spam": spam, "removed": root / "removed", "models": root / "models"}
