"""The report's joint mixture section: fit.yaml's planned mixture with its joint prediction at the
budget, the joint check pilot's measured change beside the prediction at its length, and any
correction the plan made from it."""

from __future__ import annotations

from pipeline.reporting.blocks import RunData, table
from pipeline.reporting.formatting import format_interval
from pipeline.reporting.plan_files import joint_record


def joint_mixture(run: RunData) -> str | None:
    """fit.yaml's joint mixture: its prediction at the budget, its check pilot, and any correction."""
    record = joint_record(run)
    if not (record and record.get("predicted")):
        return None
    check, correction = record.get("check") or {}, record.get("correction") or {}
    predicted, at_check = record["predicted"], check.get("predicted") or {}
    row = [
        record["rule"],
        record["risk"],
        ", ".join(f"{d} {share:.3f}" for d, share in record["shares"].items()),
        predicted["change"],
        format_interval([predicted["low"], predicted["high"]]),
        record["epsilon"],
        check.get("tokens") and int(check["tokens"]),
        at_check.get("change"),
        format_interval([at_check.get("low"), at_check.get("high")]),
        check.get("measured"),
        "-" if "inside" not in check else ("yes" if check["inside"] else "NO"),
        correction.get("offset"),
        ", ".join(f"{d} {s:.3f}" for d, s in (correction.get("shares_before") or {}).items()),
    ]
    header = [
        "rule",
        "risk",
        "shares",
        "predicted ΔL_gen at the budget",
        "interval",
        "ε",
        "check pilot tokens",
        "predicted there",
        "interval there",
        "measured there",
        "inside",
        "correction",
        "shares before it",
    ]
    return (
        "<h2>Joint mixture</h2><p>The shares of rule <code>plan.mixture</code>, with the general-loss change "
        "the joint model predicts for the whole mixture from every domain's single-domain pilots, and the "
        "check pilot (<code>plan.pilots.joint</code>) trained at those shares: measured against the "
        "prediction at its own length. Outside the interval every prediction is shifted by the miss and "
        "the shares planned again.</p>" + table(header, [row], numeric_from=3)
    )
