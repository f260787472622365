"""The report's sample documents: one kept document per domain, tier and length, and removed ones per top reason."""

from __future__ import annotations

import html

from pipeline.reporting.blocks import LENGTHS, RunData, rank

SAMPLE_CHARS = 300  # characters shown of each sample document
TOP_REASONS, REMOVED_PER_REASON = 5, 2


def samples(run: RunData) -> str | None:
    if not run.has("buckets"):
        return None
    rows = run.rows(
        f"SELECT domain, coalesce(quality_tier, 'unscored'), length_bucket, id, quality_score, left(text, {SAMPLE_CHARS}) "
        "FROM sample(1)"
    )
    tiers = run.tiers()
    body = "".join(
        sample_block(f"{d} / {q} / {b}", i, "" if s is None else f"score {s:.3f}", t)
        for d, q, b, i, s, t in sorted(
            rows, key=lambda r: (r[0], rank(r[1], tiers), rank(r[2], LENGTHS))
        )
    )
    return (
        f"<h2>Sample documents per bucket</h2><p>One kept document per domain / tier / length (first {SAMPLE_CHARS} "
        f"characters).</p>{body}{removed_samples(run)}"
    )


def removed_samples(run: RunData) -> str:
    """A few documents of each of the most frequent removal reasons, the same ones every time (by a hash of the id)."""
    if not run.has("removed"):
        return ""
    rows = run.rows(f"""
        WITH top AS (SELECT stage, reason, count(*) AS n FROM removed GROUP BY ALL ORDER BY n DESC, stage, reason LIMIT {TOP_REASONS})
        SELECT stage, reason, n, id, source, left(coalesce(text, ''), {SAMPLE_CHARS}) FROM removed JOIN top USING (stage, reason)
        QUALIFY row_number() OVER (PARTITION BY stage, reason ORDER BY hash(id), id) <= {REMOVED_PER_REASON}
        ORDER BY n DESC, stage, reason, hash(id), id""")
    body = "".join(
        sample_block(f"{stage}: {reason}", i, f"{source} &middot; {n:,} removed for this reason", t)
        for stage, reason, n, i, source, t in rows
    )
    return (
        f"<h3>Removed documents per top reason</h3><p>Up to {REMOVED_PER_REASON} documents of each of the (at most "
        f"{TOP_REASONS}) most frequent removal reasons (first {SAMPLE_CHARS} characters).</p>{body}"
    )


def sample_block(tag: str, doc_id: str, note: str, text: str) -> str:
    """One document: its tag (bucket or removal reason), id, a note (already HTML) and the start of its text."""
    note = f" &middot; {note}" if note else ""
    return (
        f"<div class='sample'><div class='tag'>{html.escape(tag)} &middot; <code>{html.escape(doc_id)}</code>{note}</div>"
        f"<pre>{html.escape(text) or '(no text)'}{'…' if len(text) == SAMPLE_CHARS else ''}</pre></div>"
    )
