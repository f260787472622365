"""``critmix explain <doc-id>``: where one document came from, what each stage decided, where it ended."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import CritmixError
from core.files import finished_files
from pipeline.commands.args import add_config_args, curated_run_dir

PER_DOCUMENT = "ingest"


def find_rows(run_dir: Path, doc_id: str) -> list[dict]:
    """Every copy of the document in the run's Parquet files, each with the file it is in."""
    import duckdb

    files = [
        str(p) for part in ("work", "removed", "shards") for p in finished_files(run_dir / part)
    ]
    if not files:
        return []
    query = (
        f"SELECT * FROM read_parquet({files!r}, filename = true, union_by_name = true, hive_partitioning = false) "
        "WHERE id = $id ORDER BY filename"
    )
    relation = duckdb.connect().execute(query, {"id": doc_id})
    names = [d[0] for d in relation.description]
    return [dict(zip(names, row)) for row in relation.fetchall()]


def stage_order(run_dir: Path) -> list[str]:
    """The run's global stages in the order they ran, from its resolved config (a run without one:
    its work/ directories, alphabetically)."""
    if not (run_dir / "config.yaml").is_file():
        return sorted(p.name for p in (run_dir / "work").iterdir() if p.name != PER_DOCUMENT)
    from pipeline.config import load_config
    from pipeline.rundir import RunDir
    from stages.registry import global_stages

    return [
        stage.name
        for stage in global_stages(load_config(run_dir / "config.yaml").curate, RunDir(run_dir))
    ]


def where(row: dict, run_dir: Path) -> tuple[str, str]:
    """(kind, stage) of the file a row is in: ('work', stage), ('removed', stage) or ('shards', '')."""
    parts = Path(row["filename"]).resolve().relative_to(run_dir.resolve()).parts
    if parts[0] == "work":
        return "work", parts[1]
    if parts[0] == "removed":
        return "removed", parts[1].removeprefix("stage=")
    return "shards", ""


def explain(run_dir: Path, doc_id: str) -> dict:
    rows = find_rows(run_dir, doc_id)
    if not rows:
        raise CritmixError(
            f"no document with id {doc_id!r} in {run_dir}; list ids with "
            f'critmix sql --run {run_dir} "SELECT id, source FROM shards LIMIT 5" (or FROM removed)'
        )
    placed = {where(row, run_dir): row for row in rows}
    first = rows[0]
    meta = json.loads(first["meta"] or "{}")
    stages = stage_order(run_dir)
    decisions = [decision(stage, placed, stages) for stage in [PER_DOCUMENT, *stages]]
    final = placed.get(("shards", "")) or next(
        (r for k, r in placed.items() if k[0] == "removed"), first
    )
    return {
        "id": doc_id,
        "source": first["source"],
        "domain": first["domain"],
        "origin": meta.get("_origin"),
        "decisions": [d for d in decisions if d is not None],
        "dup_cluster": cluster(run_dir, final.get("dup_cluster")),
        "quality_score": final.get("quality_score"),
        "n_chars": final.get("n_chars"),
        "quality_tier": final.get("quality_tier"),
        "length_bucket": final.get("length_bucket"),
        "n_tokens_est": final.get("n_tokens_est"),
        "shard": str(Path(placed[("shards", "")]["filename"]).relative_to(run_dir))
        if ("shards", "") in placed
        else None,
    }


def decision(stage: str, placed: dict, global_names: list[str]) -> dict | None:
    """What ``stage`` did with the document; None if the document never reached it.

    The per-document steps of ingest remove under their own names (``read``, ``heuristics``, ...).
    """
    removed = [
        (name, row)
        for (kind, name), row in placed.items()
        if kind == "removed"
        and (name == stage or (stage == PER_DOCUMENT and name not in global_names))
    ]
    if removed:
        name, row = removed[0]
        verdict = json.loads(row["meta"] or "{}").get("filter")
        found = {"stage": name, "decision": "removed", "reason": row["reason"], "rule": verdict}
        if (
            row.get("survivor_similarity") is not None
        ):  # a near-duplicate: how close it was to the survivor
            found["similarity"] = round(float(row["survivor_similarity"]), 4)
        return found
    if ("work", stage) in placed:
        return {"stage": stage, "decision": "kept"}
    return None


def cluster(run_dir: Path, dup_cluster: str | None) -> dict | None:
    """The duplicate cluster: its survivor (the id after the prefix), how many documents share it, and the
    survivor's quality score and length, which are why it won."""
    if not dup_cluster:
        return None
    import duckdb

    files = [str(p) for part in ("removed", "shards") for p in finished_files(run_dir / part)]
    kind, _, survivor = dup_cluster.partition(":")
    members, score, n_chars = (
        duckdb.connect()
        .execute(
            f"SELECT count(*), max(quality_score) FILTER (id = $s), max(n_chars) FILTER (id = $s) FROM "
            f"read_parquet({files!r}, union_by_name = true, hive_partitioning = false) WHERE dup_cluster = $c",
            {"c": dup_cluster, "s": survivor},
        )
        .fetchall()[0]
    )
    return {
        "cluster": dup_cluster,
        "kind": kind,
        "survivor": survivor,
        "members": members,
        "survivor_quality_score": score,
        "survivor_n_chars": n_chars,
    }


def render(info: dict) -> str:
    origin = info["origin"] or {}
    lines = [
        f"document {info['id']}  (source {info['source']}, domain {info['domain']})",
        f"  {'from':<13}{origin.get('file')} at record {origin.get('offset')}",
    ]
    for step in info["decisions"]:
        text = f"  {step['stage']:<13}{step['decision']}"
        if step["decision"] == "removed":
            text += f": {step['reason']}"
            if step.get("rule"):
                rule = step["rule"]
                text += f"  ({rule.get('rule')} = {rule.get('value')}, threshold {rule.get('threshold')})"
        lines.append(text)
        if step.get("similarity") is not None:
            lines.append(f"  {'':<13}similarity {step['similarity']:.2f} to the survivor")
    dup = info["dup_cluster"]
    lines.append(
        f"  {'duplicates':<13}"
        + (
            f"{dup['kind']} cluster of {dup['members']}, survivor {dup['survivor']}"
            if dup
            else "none"
        )
    )
    if dup and dup["survivor"] != info["id"]:
        lines.append(
            f"  {'':<13}survivor: score {fmt(dup['survivor_quality_score'])}, {dup['survivor_n_chars']} chars; "
            f"this one: score {fmt(info['quality_score'])}, {info['n_chars']} chars"
        )
    if info["quality_score"] is not None:
        lines.append(f"  {'score':<13}{info['quality_score']:.4f} -> tier {info['quality_tier']}")
    if info["length_bucket"]:
        lines.append(f"  {'length':<13}~{info['n_tokens_est']} tokens -> {info['length_bucket']}")
    lines.append(f"  {'shard':<13}{info['shard'] or '(not kept)'}")
    return "\n".join(lines)


def fmt(score: float | None) -> str:
    return "none" if score is None else f"{score:.4f}"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="show where one document went and why",
        description="Trace one document through a run: its source file and record, each stage's decision "
        "(with the filter rule's value against its threshold), its duplicate cluster and survivor, "
        "its quality score, tier and length bucket, and the shard it is in.",
        epilog='find ids with: critmix sql "SELECT id FROM removed LIMIT 5"',
    )
    parser.add_argument("doc_id", help="the document id (the id column of shards/ or removed/)")
    parser.add_argument(
        "--json", action="store_true", help="print the trace as JSON instead of text"
    )
    add_config_args(parser)
    parser.set_defaults(func=main)


def main(args) -> int:
    info = explain(curated_run_dir(args), args.doc_id)
    print(json.dumps(info, indent=2, default=str) if args.json else render(info))
    return 0
