import json
import re

import duckdb
import pytest

import pipeline.report as report
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
    for title in ("Funnel", "Removal reasons", "Toxicity filter per domain", "Quality scores per domain",
                  "Tokens per bucket", "Sample documents per bucket", "Quality classifier"):
        assert f"<h2>{title}</h2>" in page
    assert page.count("<svg") >= 5
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", page)  # nothing loaded from elsewhere


def test_funnel_accounts_for_every_document_read(run):
    funnel = section((run / "report.html").read_text(), "Funnel")
    read = sum(json.loads((run / "manifest.json").read_text())["stages"]["ingest"]["counters"]["read"].values())
    total_row = re.search(r"<tr><td class=''>all</td><td class=''></td><td class='num'>([\d,]+)</td>", funnel)
    assert int(total_row.group(1).replace(",", "")) == read == 24


def test_toxicity_is_reported_per_domain(run):
    toxic = section((run / "report.html").read_text(), "Toxicity filter per domain")
    removed = dict(duckdb.sql(f"SELECT domain, count(*) FROM read_parquet('{run}/removed/stage=toxicity/*.parquet') "
                              "GROUP BY ALL").fetchall())
    assert removed.get("legal", 0) > 0 and removed.get("general", 0) == 0
    passed = dict(duckdb.sql(f"SELECT domain, count(*) FROM read_parquet('{run}/work/ingest/*.parquet') GROUP BY ALL").fetchall())
    for domain in ("legal", "general"):
        judged = passed[domain] + removed.get(domain, 0)
        assert f"<td class=''>{domain}</td><td class='num'>{judged}</td><td class='num'>{removed.get(domain, 0)}</td>" in toxic


def test_later_sections_plug_in_as_functions(run, monkeypatch):
    monkeypatch.setattr(report, "SECTIONS", [*report.SECTIONS, lambda data: "<h2>Law fits</h2><p>fitted</p>"])
    page = report.build_report(run).read_text()
    assert page.index("<h2>Quality classifier</h2>") < page.index("<h2>Law fits</h2>")


def test_tiers_are_listed_in_the_configured_order_not_alphabetically(tmp_path):
    import json

    from pipeline.report import rank
    from pipeline.report_blocks import RunData

    (tmp_path / "work/buckets").mkdir(parents=True)
    (tmp_path / "work/buckets/edges.json").write_text(json.dumps({"tiers": ["poor", "fair", "best"], "edges": {}}))
    tiers = RunData(tmp_path, {}, None).tiers()
    assert sorted(["best", "unscored", "poor", "fair"], key=lambda tier: rank(tier, tiers)) == ["poor", "fair", "best", "unscored"]
