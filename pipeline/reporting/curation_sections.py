"""The curation sections of the report: funnel, removal reasons, toxicity, quality, buckets, samples and the
classifier, in the order ``CURATION_SECTIONS`` lists them. Each is ``section(run: RunData) -> str | None``:
an HTML fragment, or None when the run has nothing for it."""

from __future__ import annotations

import html

from core.files import finished_files
from pipeline.reporting.blocks import LENGTHS, RunData, Share, Size, figure, rank, svg, table
from pipeline.reporting.samples import samples

STAGE_COLORS = [
    "#4c72b0",
    "#dd8452",
    "#c44e52",
    "#8172b3",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
]  # no green: green is "kept"


def overview(run: RunData) -> str:
    stages = run.manifest.get("stages", {})
    rows = [
        [
            name,
            stages[name].get("status"),
            stages[name].get("finished_at", ""),
            stages[name].get("seconds"),
        ]
        for name in sorted(stages, key=pipeline_rank(run))
    ]
    return (
        f"<h2>Run</h2><p><code>{html.escape(str(run.path))}</code>, config hash "
        f"<code>{html.escape(str(run.manifest.get('config_hash')))}</code></p>"
        + table(["stage", "status", "finished", "seconds"], rows, numeric_from=3)
    )


def funnel(run: RunData) -> str | None:
    """Per source: documents and bytes in, removed per stage, kept."""
    stages, rows = funnel_rows(run)
    if not rows:
        return None
    header = [
        "source",
        "domain",
        "docs in",
        "size in",
        *[f"removed: {s}" for s in stages],
        "kept",
        "size kept",
        "kept share",
    ]
    totals = (
        ["all", "", sum(r[2] for r in rows), Size(sum(r[3] for r in rows))]
        + [sum(r[4 + i] for r in rows) for i in range(len(stages) + 1)]
        + [Size(sum(r[-2] for r in rows))]
    )
    totals.append(Share(totals[-2] / max(1, totals[2])))
    return (
        "<h2>Funnel</h2>"
        + svg(funnel_figure(stages, rows))
        + table(header, rows + [totals], numeric_from=2)
    )


def funnel_rows(run: RunData) -> tuple[list[str], list[list]]:
    """The stages that removed documents, in pipeline order, and per (source, domain): docs and bytes in, docs
    removed per stage, docs and bytes kept, kept share."""
    kept = (
        {
            (s, d): (n, b)
            for s, d, n, b in run.rows(
                "SELECT source, domain, count(*), sum(strlen(text)) FROM shards GROUP BY ALL"
            )
        }
        if run.has("shards")
        else {}
    )
    removed_rows = (
        run.rows(
            "SELECT source, domain, stage, count(*), sum(strlen(text)) FROM removed GROUP BY ALL"
        )
        if run.has("removed")
        else []
    )
    stages = sorted({r[2] for r in removed_rows}, key=pipeline_rank(run))
    removed = {(s, d, st): (n, b) for s, d, st, n, b in removed_rows}
    sources = sorted(set(kept) | {(s, d) for s, d, *_ in removed_rows}, key=lambda k: (k[1], k[0]))
    rows = []
    for source, domain in sources:
        per_stage = [removed.get((source, domain, st), (0, 0)) for st in stages]
        kept_docs, kept_bytes = kept.get((source, domain), (0, 0))
        docs_in = kept_docs + sum(n for n, _ in per_stage)
        bytes_in = kept_bytes + sum(b or 0 for _, b in per_stage)
        rows.append(
            [
                source,
                domain,
                docs_in,
                Size(bytes_in),
                *[n for n, _ in per_stage],
                kept_docs,
                Size(kept_bytes),
                Share(kept_docs / max(1, docs_in)),
            ]
        )
    return stages, rows


def funnel_figure(stages: list[str], rows: list[list]):
    """One stacked bar per source: the shares of its documents kept and removed by each stage."""
    fig, ax = figure(9, 0.35 * len(rows) + 1.2)
    labels = [f"{r[0]} ({r[1]})" for r in rows]
    left = [0.0] * len(rows)
    for i, name in enumerate(["kept", *stages]):
        values = [r[4 + len(stages)] if name == "kept" else r[4 + stages.index(name)] for r in rows]
        shares = [v / max(1, r[2]) for v, r in zip(values, rows)]
        ax.barh(
            labels,
            shares,
            left=left,
            color="#55a868" if name == "kept" else STAGE_COLORS[i % len(STAGE_COLORS)],
            label=name,
        )
        left = [a + b for a, b in zip(left, shares)]
    ax.set_xlabel("share of documents in")
    ax.invert_yaxis()
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(stages) + 1, frameon=False)
    return fig


def pipeline_rank(run: RunData):
    """Sort key: stage names in the order the pipeline runs them. Ingest's per-document steps (read, normalize,
    ...) as its task stats list them, ingest itself, the global stages of the run's config, the shard writer."""
    from pipeline.commands.explain import stage_order

    stats = run.json_file("logs/ingest/stats.json") or []
    order = [step["name"].split(": ", 1)[-1] for step in stats] + [
        "ingest",
        *stage_order(run.path),
        "shards",
    ]
    return lambda stage: rank(stage, order)


def removal_reasons(run: RunData) -> str | None:
    if not run.has("removed"):
        return None
    rows = [
        [stage, reason, n, Size(size)]
        for stage, reason, n, size in run.rows(
            "SELECT stage, reason, count(*) AS n, sum(strlen(text)) FROM removed GROUP BY ALL ORDER BY n DESC, stage, reason"
        )
    ]
    fig, ax = figure(8, 0.3 * len(rows) + 1)
    ax.barh([f"{s}: {r}" for s, r, *_ in rows], [n for _, _, n, _ in rows], color="#c44e52")
    ax.invert_yaxis()
    ax.set_xlabel("documents removed")
    return (
        "<h2>Removal reasons</h2>"
        + svg(fig)
        + table(["stage", "reason", "docs", "size"], rows, numeric_from=2)
    )


def toxicity(run: RunData) -> str | None:
    """Per domain, when the toxicity filter is on: documents it judged and how many it removed.

    It is the last per-document step, so it judged what ingest kept plus what it removed itself.
    """
    passed = [str(p) for p in finished_files(run.path / "work/ingest", "*.parquet")]
    if (
        not run.manifest.get("config", {}).get("curate", {}).get("toxicity", {}).get("enabled")
        or not passed
    ):
        return None
    removed = (
        "UNION ALL SELECT domain, true FROM removed WHERE stage = 'toxicity'"
        if run.has("removed")
        else ""
    )
    rows = run.rows(f"""
        SELECT domain, count(*), count(*) FILTER (WHERE flagged) FROM (
            SELECT domain, false AS flagged FROM read_parquet({passed!r}) {removed})
        GROUP BY ALL ORDER BY domain""")
    return "<h2>Toxicity filter per domain</h2>" + table(
        ["domain", "docs judged", "removed", "removed share"],
        [[d, n, r, Share(r / max(1, n))] for d, n, r in rows],
    )


def quality_histograms(run: RunData) -> str | None:
    if not run.has("shards") or not run.rows("SELECT count(quality_score) FROM shards")[0][0]:
        return None
    import numpy as np

    edges = (run.json_file("work/buckets/edges.json") or {}).get("edges", {})
    domains = [
        d
        for (d,) in run.rows(
            "SELECT DISTINCT domain FROM shards WHERE quality_score IS NOT NULL ORDER BY 1"
        )
    ]
    columns = min(3, len(domains))
    grid_rows = (len(domains) + columns - 1) // columns
    fig, axes = figure(4 * columns, 2.6 * grid_rows, grid_rows, columns, squeeze=False)
    for ax, domain in zip(axes.flat, domains):
        scores = np.array(
            [
                s
                for (s,) in run.rows(
                    f"SELECT quality_score FROM shards WHERE domain = '{domain}' AND quality_score IS NOT NULL"
                )
            ]
        )
        ax.hist(scores, bins=np.linspace(0, 1, 41), color="#4c72b0")
        for edge in edges.get(domain, []):
            ax.axvline(edge, color="#c44e52", linestyle="--", linewidth=1)
        ax.set_title(f"{domain} ({len(scores):,} docs)", fontsize=10)
        ax.set_xlabel("quality score")
    for ax in list(axes.flat)[len(domains) :]:
        ax.axis("off")
    fig.tight_layout()
    rows = [[d, *edges.get(d, [])] for d in domains]
    return (
        "<h2>Quality scores per domain</h2><p>Dashed lines: the tier edges (per-domain quantiles).</p>"
        + svg(fig)
        + table(
            [
                "domain",
                *[f"edge {i + 1}" for i in range(max((len(r) - 1 for r in rows), default=0))],
            ],
            rows,
        )
    )


def bucket_tokens(run: RunData) -> str | None:
    if not run.has("buckets"):
        return None
    tiers = run.tiers()
    rows = sorted(
        run.rows("SELECT domain, quality_tier, length_bucket, docs, tokens FROM buckets"),
        key=lambda r: (r[0], rank(r[1], tiers), rank(r[2], LENGTHS)),
    )
    groups = list(dict.fromkeys((d, q) for d, q, *_ in rows))
    lengths = list(
        dict.fromkeys(b for _, _, b, _, _ in sorted(rows, key=lambda r: rank(r[2], LENGTHS)))
    )
    fig, ax = figure(9, 0.32 * len(groups) + 1.2)
    left = [0] * len(groups)
    for i, length in enumerate(lengths):
        values = [sum(t for d, q, b, _, t in rows if (d, q, b) == (*g, length)) for g in groups]
        ax.barh(
            [f"{d} / {q}" for d, q in groups],
            values,
            left=left,
            label=length,
            color=STAGE_COLORS[i % len(STAGE_COLORS)],
        )
        left = [a + b for a, b in zip(left, values)]
    ax.invert_yaxis()
    ax.set_xlabel("estimated tokens")
    ax.legend(title="length", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return (
        "<h2>Tokens per bucket</h2>"
        + svg(fig)
        + table(["domain", "tier", "length", "docs", "tokens"], rows, numeric_from=3)
    )


def classifier(run: RunData) -> str | None:
    record = run.json_file("models/quality.json")
    if not record:
        return None
    from stages.quality.scoring import EVALUATED_ON

    scored_by = (
        f"<p>Scored by {html.escape(run.manifest.get('quality_model') or record['model'])}.</p>"
    )
    facts = [
        ["origin", record["origin"]],
        ["model", record["model"]],
        ["sha256", record.get("sha256", "")[:16]],
    ]
    if "metrics" not in record:
        return "<h2>Quality classifier</h2>" + scored_by + table(None, facts, numeric_from=2)
    import numpy as np

    metrics = record["metrics"]
    facts += [
        ["positives", ", ".join(record["sources"]["positive"])],
        ["negatives", ", ".join(record["sources"]["negative"])],
        [
            "examples (train / held out)",
            f"{record['examples']['train']:,} / {record['examples']['holdout']:,}",
        ],
        ["evaluated on", EVALUATED_ON[record["origin"]]],
    ]
    labels, scores = (
        np.array(record["holdout"]["label"], bool),
        np.array(record["holdout"]["score"]),
    )
    fig, (roc, hist) = figure(9, 3.2, 1, 2)
    thresholds = np.r_[np.inf, np.sort(np.unique(scores))[::-1]]
    tpr = [(scores[labels] >= t).mean() for t in thresholds]
    fpr = [(scores[~labels] >= t).mean() for t in thresholds]
    roc.plot(fpr, tpr, color="#4c72b0")
    roc.plot([0, 1], [0, 1], color="#8c8c8c", linestyle=":")
    roc.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        title=f"held-out ROC, AUC {metrics['auc']:.3f}",
    )
    bins = np.linspace(0, 1, 26)
    hist.hist(scores[labels], bins=bins, alpha=0.6, label="reference (positive)", color="#55a868")
    hist.hist(
        scores[~labels], bins=bins, alpha=0.6, label="low quality (negative)", color="#c44e52"
    )
    hist.set(xlabel="score", title="held-out scores")
    hist.legend(frameon=False)
    fig.tight_layout()
    scores_table = table(
        ["precision", "recall", "F1", "AUC", "threshold"],
        [
            [
                metrics["precision"],
                metrics["recall"],
                metrics["f1"],
                metrics["auc"],
                metrics["threshold"],
            ]
        ],
        numeric_from=0,
    )
    return (
        "<h2>Quality classifier</h2>"
        + scored_by
        + table(None, facts, numeric_from=2)
        + scores_table
        + svg(fig)
    )


CURATION_SECTIONS = [
    overview,
    funnel,
    removal_reasons,
    toxicity,
    quality_histograms,
    bucket_tokens,
    samples,
    classifier,
]
