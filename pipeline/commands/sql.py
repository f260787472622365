"""``critmix sql``: DuckDB over a run's Parquet, with views ``shards``, ``removed`` and ``buckets``
and the table macro ``sample(n)``."""

from __future__ import annotations

import sys
from pathlib import Path

from core.files import finished_files
from pipeline.commands.args import add_config_args, curated_run_dir


def connect(run_dir: Path):
    """A DuckDB connection with a view per table of the run that exists on disk."""
    import duckdb

    con = duckdb.connect()
    for view, pattern in (("shards", "shards/**/*.parquet"), ("removed", "removed/**/*.parquet")):
        files = [str(p) for p in finished_files(run_dir, pattern)]
        if files:
            con.execute(
                f"CREATE VIEW {view} AS SELECT * FROM read_parquet({files!r}, hive_partitioning = false, union_by_name = true)"
            )
            if view == "shards":
                con.execute(BUCKET_VIEWS)
    return con


# Buckets are domain x quality tier x length; sample(n) takes n documents of each, chosen by a
# hash of the id so the same query always shows the same documents.
BUCKET_VIEWS = """
CREATE VIEW buckets AS
  SELECT domain, coalesce(quality_tier, 'unscored') AS quality_tier, length_bucket,
         count(*) AS docs, sum(n_tokens_est) AS tokens, sum(n_chars) AS chars, avg(quality_score) AS mean_quality
  FROM shards GROUP BY ALL ORDER BY ALL;
CREATE MACRO sample(n) AS TABLE
  SELECT * FROM shards
  QUALIFY row_number() OVER (PARTITION BY domain, quality_tier, length_bucket ORDER BY hash(id), id) <= n
  ORDER BY domain, quality_tier, length_bucket, id;
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sql",
        help="query a run's shards with DuckDB",
        description="Run a SQL query over a run's Parquet files. Views: shards (kept documents), "
        "removed (dropped documents with stage and reason), buckets (docs and tokens per domain x "
        "quality tier x length bucket); table macro sample(n): n documents of every bucket.",
        epilog='examples: critmix sql "SELECT * FROM buckets"; '
        'critmix sql "SELECT domain, quality_tier, length_bucket, left(text, 80) FROM sample(2)"',
    )
    parser.add_argument("query", help="the SQL query")
    parser.add_argument(
        "--format",
        choices=["table", "csv", "json", "jsonl"],
        default="table",
        help="output format (default: table); json is one JSON array, jsonl one object per line",
    )
    add_config_args(parser)
    parser.set_defaults(func=main)


def main(args) -> int:
    import duckdb

    try:
        relation = connect(curated_run_dir(args)).sql(args.query)
    except duckdb.Error as err:  # a wrong column, table or syntax: the query is the user's to fix
        print(f"critmix sql: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    if relation is None:
        return 0
    if args.format == "table":
        relation.show(max_rows=200, max_width=200)
    else:
        frame = relation.to_arrow_table()
        write_table(frame, args.format, sys.stdout)
    return 0


def write_table(table, fmt: str, out) -> None:
    import io
    import json

    if fmt == "csv":
        import pyarrow.csv as pacsv

        sink = io.BytesIO()
        pacsv.write_csv(table, sink)
        out.write(sink.getvalue().decode())
    else:  # row by row, so that a reader that has seen enough (`| head`) can stop it
        rows = (json.dumps(row, default=str, ensure_ascii=False) for row in table.to_pylist())
        if fmt == "jsonl":
            for row in rows:
                out.write(row + "\n")
            return
        out.write("[")
        for position, row in enumerate(rows):
            out.write(("\n" if position == 0 else ",\n") + row)
        out.write("\n]\n" if table.num_rows else "]\n")
