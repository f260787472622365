"""``critmix report``: one self-contained ``runs/<name>/report.html`` with inline SVG plots.

The report is a list of sections. Each section is a function ``section(run: RunData) -> str | None``
that returns an HTML fragment, or None when the run has nothing for it (no quality model, no
toxicity stage, ...). The curation sections are ``CURATION_SECTIONS`` of
pipeline/reporting/curation_sections.py; the planning and training ones
(law fits, curriculum, training curves, whether the plan held) are ``PLAN_SECTIONS`` of
pipeline/reporting/plan_sections.py, which follow them.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from core.files import atomic_write_text
from pipeline.commands.args import add_config_args, curated_run_dir
from pipeline.reporting.blocks import RunData
from pipeline.reporting.curation_sections import CURATION_SECTIONS
from pipeline.reporting.plan_sections import PLAN_SECTIONS

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; } td.num { text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } svg { max-width: 100%; height: auto; }
.sample { margin: 0.6em 0; } .tag { font-size: 12px; color: #555; }
pre { white-space: pre-wrap; background: #f7f7f7; padding: 6px; margin: 2px 0; font-size: 12px; }
"""


def build_report(run_dir: Path) -> Path:
    from pipeline.commands.sql import connect

    run = RunData(run_dir, json.loads((run_dir / "manifest.json").read_text()), connect(run_dir))
    parts = [
        part for part in (section(run) for section in [*CURATION_SECTIONS, *PLAN_SECTIONS]) if part
    ]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>critmix report: {html.escape(run_dir.name)}</title>"
        f"<style>{STYLE}</style></head><body><h1>critmix report: {html.escape(run_dir.name)}</h1>{''.join(parts)}</body></html>"
    )
    out = run_dir / "report.html"
    atomic_write_text(out, page)
    return out


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the run's HTML report",
        description="Write <run>/report.html, one self-contained page: the curation funnel per source, removal "
        "reasons, quality-score histograms per domain with tier edges, tokens per bucket, sample documents "
        "and the quality classifier's evaluation.",
    )
    add_config_args(parser)
    parser.set_defaults(func=main)


def main(args) -> int:
    print(f"wrote {build_report(curated_run_dir(args))}")
    return 0
