import json
import re

import duckdb
import pytest

import pipeline.commands.report as report
from pipeline.cli import main
from tests.conftest import REPO


@pytest.fixture(scope="module")
def run(toxic_tiny_run):
    """The tiny run with the toxicity filter on (one word), and its report."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        assert main(["report", "--run", str(toxic_tiny_run)]) == 0
    return toxic_tiny_run


def section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start : end if end > 0 else len(page)]


def test_report_is_self_contained_with_every_section(run):
    page = (run / "report.html").read_text()
    for title in (
        "Funnel",
        "Removal reasons",
        "Toxicity filter per domain",
        "Quality scores per domain",
        "Tokens per bucket",
        "Sample documents per bucket",
        "Quality classifier",
    ):
        assert f"<h2>{title}</h2>" in page
    assert page.count("<svg") >= 5
    assert not re.search(
        r"""(src|href)=["']?(https?:|//|file:)""", page
    )  # nothing loaded from elsewhere


def test_funnel_accounts_for_every_document_read(run):
    funnel = section((run / "report.html").read_text(), "Funnel")
    read = sum(
        json.loads((run / "manifest.json").read_text())["stages"]["ingest"]["counters"][
            "read"
        ].values()
    )
    total_row = re.search(
        r"<tr><td class=''>all</td><td class=''></td><td class='num'>([\d,]+)</td>", funnel
    )
    assert int(total_row.group(1).replace(",", "")) == read == 24


def test_toxicity_is_reported_per_domain(run):
    toxic = section((run / "report.html").read_text(), "Toxicity filter per domain")
    removed = dict(
        duckdb.sql(
            f"SELECT domain, count(*) FROM read_parquet('{run}/removed/stage=toxicity/*.parquet') "
            "GROUP BY ALL"
        ).fetchall()
    )
    assert removed.get("legal", 0) > 0 and removed.get("general", 0) == 0
    passed = dict(
        duckdb.sql(
            f"SELECT domain, count(*) FROM read_parquet('{run}/work/ingest/*.parquet') GROUP BY ALL"
        ).fetchall()
    )
    for domain in ("legal", "general"):
        judged = passed[domain] + removed.get(domain, 0)
        assert (
            f"<td class=''>{domain}</td><td class='num'>{judged}</td><td class='num'>{removed.get(domain, 0)}</td>"
            in toxic
        )


def test_later_sections_plug_in_as_functions(run, monkeypatch):
    monkeypatch.setattr(
        report,
        "CURATION_SECTIONS",
        [*report.CURATION_SECTIONS, lambda data: "<h2>Law fits</h2><p>fitted</p>"],
    )
    page = report.build_report(run).read_text()
    assert page.index("<h2>Quality classifier</h2>") < page.index("<h2>Law fits</h2>")


def test_tiers_are_listed_in_the_configured_order_not_alphabetically(tmp_path):
    import json

    from pipeline.reporting.blocks import RunData, rank

    (tmp_path / "work/buckets").mkdir(parents=True)
    (tmp_path / "work/buckets/edges.json").write_text(
        json.dumps({"tiers": ["poor", "fair", "best"], "edges": {}})
    )
    tiers = RunData(tmp_path, {}, None).tiers()
    assert sorted(["best", "unscored", "poor", "fair"], key=lambda tier: rank(tier, tiers)) == [
        "poor",
        "fair",
        "best",
        "unscored",
    ]


def cells(part: str) -> list[str]:
    return re.findall(r"<td class='num'>([^<]*)</td>", part)


def test_stages_and_funnel_are_in_pipeline_order(run):
    page = (run / "report.html").read_text()
    stages = re.findall(r"<tr><td class=''>(\w+)</td><td class=''>done</td>", section(page, "Run"))
    assert stages == ["ingest", "exact_dedup", "quality", "minhash", "buckets", "shards"]
    funnel = section(page, "Funnel")
    removed_columns = re.findall(r"<th>removed: (\w+)</th>", funnel)
    assert removed_columns == ["read", "normalize", "toxicity", "exact_dedup"]
    legend = [
        label
        for label in re.findall(r"<!-- (\w+) -->", funnel)
        if label in ["kept", *removed_columns]
    ]
    assert legend[-len(removed_columns) - 1 :] == [
        "kept",
        *removed_columns,
    ]  # the legend's entries, in drawing order


def test_numbers_are_formatted_one_way_and_tables_have_real_headers(run):
    page = (run / "report.html").read_text()
    formats = [r"-?[\d,]+", r"-?[\d,]+\.\d{3}", r"\d+\.\d%", r"[\d,]+(\.\d)? (B|KB|MB)", r"-"]
    odd = [c for c in cells(page) if not any(re.fullmatch(f, c) for f in formats)]
    assert not odd, odd[:10]
    assert "<th></th>" not in page and "0.0000" not in page


def test_removed_documents_of_the_top_reasons_are_shown_beside_the_kept_samples(run):
    samples = section((run / "report.html").read_text(), "Sample documents per bucket")
    reasons = duckdb.sql(
        f"SELECT stage || ': ' || reason FROM read_parquet('{run}/removed/**/*.parquet', hive_partitioning = true) "
        "GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 5"
    ).fetchall()
    for (reason,) in reasons:
        assert f"<div class='tag'>{reason} &middot;" in samples


def test_the_report_says_which_model_scored_the_run_and_what_it_was_evaluated_on(run):
    classifier = section((run / "report.html").read_text(), "Quality classifier")
    assert "Scored by a model trained for this run on stories (positive)" in classifier
    assert "held-out documents of this run&#x27;s positive and negative sets" in classifier


def test_a_small_learning_rate_keeps_its_digits_and_text_cells_wrap():
    from pipeline.reporting.blocks import cell, table

    assert cell(3e-4) == "3.0e-04" and cell(0.25) == "0.250" and cell(0.0) == "0.000"
    page = table(["phase", "peak LR", "warnings"], [["cpt", 3e-4, "a long warning " * 20]])
    numeric = re.findall(r"<td class='num'>([^<]*)</td>", page)
    assert numeric == ["3.0e-04"]  # the warning is not a nowrap number cell, so it cannot overflow
