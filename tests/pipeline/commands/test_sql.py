import json

import pytest

from pipeline.cli import main


def test_sql_over_shards_and_removed(tiny_run, capsys):
    assert (
        main(
            [
                "sql",
                "--run",
                str(tiny_run),
                "--format",
                "csv",
                "SELECT domain, count(*) AS n FROM shards GROUP BY ALL ORDER BY domain",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == ['"domain","n"', '"general",12', '"legal",8']
    assert (
        main(
            ["sql", "--run", str(tiny_run), "--format", "json", "SELECT count(*) AS n FROM removed"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == [{"n": 4}]
    query = "SELECT domain, count(*) AS n FROM shards GROUP BY ALL ORDER BY domain"
    assert main(["sql", "--run", str(tiny_run), "--format", "jsonl", query]) == 0
    assert capsys.readouterr().out.splitlines() == [
        '{"domain": "general", "n": 12}',
        '{"domain": "legal", "n": 8}',
    ]
    assert (
        main(["sql", "--run", str(tiny_run), "--format", "json", "SELECT 1 AS n WHERE false"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == []


def test_sql_on_a_missing_run_says_what_to_do(tmp_path, capsys):
    assert main(["sql", "--run", str(tmp_path / "none"), "SELECT 1"]) == 1
    assert "run `critmix curate --config configs/demo.yaml --run " in capsys.readouterr().err


def test_bucket_view_and_sample_macro(tiny_run, capsys):
    from pipeline.commands.sql import connect

    con = connect(tiny_run)
    buckets = con.sql(
        "SELECT domain, quality_tier, length_bucket, docs, tokens FROM buckets"
    ).fetchall()
    totals = con.sql(
        "SELECT domain, quality_tier, length_bucket, count(*), sum(n_tokens_est) FROM shards GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert buckets == totals and {row[1] for row in buckets} == {"low", "mid", "high"}
    first = con.sql("SELECT id FROM sample(1)").fetchall()
    assert len(first) == len(buckets) and first == con.sql("SELECT id FROM sample(1)").fetchall()
    assert (
        main(
            [
                "sql",
                "--run",
                str(tiny_run),
                "--format",
                "csv",
                "SELECT count(*) AS n FROM sample(2)",
            ]
        )
        == 0
    )
    assert int(capsys.readouterr().out.splitlines()[1]) == sum(min(2, row[3]) for row in buckets)


@pytest.mark.parametrize(
    "query, message",
    [
        ("SELECT no_such_column FROM shards", 'Referenced column "no_such_column" not found'),
        ("SELECT * FROM no_such_table", "Table with name no_such_table does not exist"),
        ("SELEC 1", "syntax error"),
    ],
)
def test_a_bad_query_prints_duckdbs_one_line_message_and_exits_2(tiny_run, capsys, query, message):
    assert main(["sql", "--run", str(tiny_run), query]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
