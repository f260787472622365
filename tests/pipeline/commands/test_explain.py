import json

import duckdb
import pytest

from pipeline.cli import main
from pipeline.commands.explain import stage_order


@pytest.fixture(scope="module")
def run(toxic_tiny_run):
    return toxic_tiny_run


def trace(run, doc_id, capsys):
    assert main(["explain", doc_id, "--run", str(run), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def one(run, query):
    return duckdb.sql(
        query.replace(
            "shards", f"read_parquet('{run}/shards/**/*.parquet', hive_partitioning = false)"
        ).replace(
            "removed", f"read_parquet('{run}/removed/**/*.parquet', hive_partitioning = false)"
        )
    ).fetchall()[0]


def test_a_kept_document_shows_origin_stages_quality_and_shard(run, capsys):
    doc_id, tier, score, shard_domain = one(
        run,
        "SELECT id, quality_tier, quality_score, domain FROM shards WHERE dup_cluster IS NULL ORDER BY id LIMIT 1",
    )
    info = trace(run, doc_id, capsys)
    assert info["origin"]["file"].startswith("tests/data/tiny/") and info["origin"]["offset"] >= 0
    assert [d["stage"] for d in info["decisions"]] == ["ingest", *stage_order(run)]
    assert {"exact_dedup", "quality", "buckets"} <= set(stage_order(run))
    assert {d["decision"] for d in info["decisions"]} == {"kept"}
    assert info["quality_tier"] == tier and info["quality_score"] == pytest.approx(score)
    assert (
        info["shard"].startswith(f"shards/domain={shard_domain}/quality={tier}/")
        and info["dup_cluster"] is None
    )


def test_a_duplicate_shows_its_cluster_and_survivor(run, capsys):
    doc_id, cluster = one(
        run, "SELECT id, dup_cluster FROM removed WHERE stage = 'exact_dedup' ORDER BY id LIMIT 1"
    )
    info = trace(run, doc_id, capsys)
    assert info["decisions"][-1] == {
        "stage": "exact_dedup",
        "decision": "removed",
        "reason": "duplicate",
        "rule": None,
    }
    survivor = cluster.removeprefix("exact:")
    assert info["dup_cluster"]["survivor"] == survivor and info["dup_cluster"]["members"] >= 2
    assert trace(run, survivor, capsys)["shard"] is not None


def test_a_filtered_document_shows_the_rule_value_against_its_threshold(run, capsys):
    doc_id = one(run, "SELECT id FROM removed WHERE stage = 'toxicity' ORDER BY id LIMIT 1")[0]
    info = trace(run, doc_id, capsys)
    assert [d["decision"] for d in info["decisions"]] == ["removed"]
    rule = info["decisions"][0]["rule"]
    assert rule["rule"] == "toxicity:word_list" and rule["value"] > rule["threshold"] == 0.01
    assert main(["explain", doc_id, "--run", str(run)]) == 0
    assert "toxicity:word_list = " in capsys.readouterr().out


def test_an_unknown_id_says_how_to_find_ids(run, capsys):
    assert main(["explain", "no-such-id", "--run", str(run)]) == 1
    assert "SELECT id" in capsys.readouterr().err
