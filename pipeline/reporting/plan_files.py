"""Reading the plan's files of a run for the report: fit.yaml, the curricula."""

from __future__ import annotations

import yaml

from pipeline.reporting.blocks import RunData
from stages.plan.cmr.mixture import JOINT_KEY


def yaml_file(run: RunData, relative: str):
    path = run.path / relative
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def domain_fits(run: RunData) -> dict | None:
    """fit.yaml's fits per domain, without its joint mixture record."""
    fits = yaml_file(run, "plan/fit.yaml")
    return fits and {d: fit for d, fit in fits.items() if d != JOINT_KEY}


def joint_record(run: RunData) -> dict | None:
    """fit.yaml's joint mixture record (``pipeline/commands/plan.py``, ``mixture_record``)."""
    return (yaml_file(run, "plan/fit.yaml") or {}).get(JOINT_KEY)
