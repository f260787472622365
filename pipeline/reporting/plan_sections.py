"""Report sections for planning and training: law fits and their backtest, the curriculum, training
curves, and whether the plan held (what the planner predicted against what the final run measured).

The prediction for a domain planned at share s is the ε view's general-loss change at the budget
(``general_change`` in fit.yaml: measured on the pilots within their length, the joint law past it),
linear in R between pilot ratios, with its bootstrap interval; the domain loss comes from the L(R)
law. It is measured against the plan's reference: the R = 0 control pilot (its change against the base
at the pilots' end is added to compare with the final run) or the model before CPT. The measurement is
the final run's validation loss at the end of its continual pre-training (the last CPT phase) against
the end of its general phase. With several domains the pilots saw one domain at a time, so each
domain's row predicts for that domain alone; the joint row is the joint model's prediction for the
whole mixture (``stages/plan/cmr/joint_mixture.py``), as the planner made it.

The joint mixture section (``joint_section.py``) sets fit.yaml's ``joint mixture`` beside its check pilot: the prediction
at the budget, the check pilot's measured change against the prediction at its length, and the
correction the plan made when the two differ by more than the interval.
"""

from __future__ import annotations

import base64
import html
import json

import numpy as np

from pipeline.reporting.blocks import RunData, figure, svg, table
from pipeline.reporting.formatting import format_interval
from pipeline.reporting.joint_section import joint_mixture
from pipeline.reporting.plan_files import domain_fits, yaml_file
from stages.plan.cmr.joint_mixture import DomainCurve, predict
from stages.plan.laws.power import PowerLaw


def law_fits(run: RunData) -> str | None:
    fits = domain_fits(run)
    if not fits:
        return None
    rows, images = [], []
    for domain, fit in fits.items():
        views = fit.get("epsilon_views") or {}
        rows.append(
            [
                domain,
                fit.get("cmr"),
                format_interval(fit.get("ci") or [None, None]),
                fit.get("used"),
                fit.get("binding") or "-",
                fit.get("epsilon_reference"),
                fit.get("control_general_change"),
                views.get("law_free"),
                views.get("joint"),
                views.get("per_ratio"),
                fit.get("cmr_turnaround"),
                "; ".join(fit.get("warnings") or []),
            ]
        )
        plot = run.path / f"plan/plots/{domain}.png"
        if plot.is_file():
            data = base64.b64encode(plot.read_bytes()).decode()
            images.append(
                f"<img alt='CMR fit for {html.escape(domain)}' src='data:image/png;base64,{data}' style='max-width:100%'>"
            )
    header = [
        "domain",
        "CMR",
        "CI",
        "view used",
        "binding",
        "ε against",
        "control ΔL_gen vs base",
        "ε view: law-free",
        "joint law",
        "per-ratio laws",
        "turnaround view",
        "warnings",
    ]
    return (
        "<h2>Critical mixture ratio per domain</h2>"
        + table(header, rows)
        + backtest_table(fits)
        + "".join(images)
    )


def backtest_table(fits: dict) -> str:
    """The backtest of ``plan/fit.yaml``: plans from the pilots cut short, against their full length."""
    rows = []
    for domain, fit in fits.items():
        report = fit.get("backtest") or {}
        for cut in report.get("cuts", []):
            rows.append(
                [
                    domain,
                    cut["share"],
                    cut.get("cmr"),
                    format_interval(cut.get("ci") or [None, None]),
                    report.get("law_free"),
                    cut.get("error_vs_law_free"),
                    cut.get("covers_law_free"),
                    cut.get("per_ratio_view"),
                    cut.get("note", ""),
                ]
            )
    if not rows:
        return ""
    header = [
        "domain",
        "pilots cut at",
        "predicted CMR",
        "interval",
        "law-free at full length",
        "error",
        "covered",
        "per-ratio laws",
        "note",
    ]
    return (
        "<h3>Backtest: the plan from shorter pilots against the full ones</h3>"
        "<p>Every pilot cut at 1/2 and 1/4 of its tokens predicts the CMR at the full pilot length; the truth "
        "is the law-free crossing of the full curves' measured losses (<code>critmix law validate</code>).</p>"
        + table(header, rows, numeric_from=1)
    )


def curriculum_figure(run: RunData) -> str | None:
    spec = yaml_file(run, "plan/curriculum.yaml")
    if not spec:
        return None
    phases = spec["phases"]
    domains = sorted({d for p in phases for d in p["mixture"]})
    fig, ax = figure(9, 0.5 + 0.45 * len(phases))
    left = [0.0] * len(phases)
    for index, domain in enumerate(domains):
        shares = [p["mixture"].get(domain, {}).get("share", 0.0) for p in phases]
        ax.barh(range(len(phases)), shares, left=left, color=f"C{index}", label=domain)
        left = [a + b for a, b in zip(left, shares)]
    ax.set_yticks(range(len(phases)), [f"{p['name']} ({p['tokens']:,} tok)" for p in phases])
    ax.invert_yaxis()
    ax.set_xlabel("share of the phase's tokens")
    ax.legend(loc="lower right", fontsize=8)
    rows = [
        [
            p["name"],
            p["tokens"],
            p["lr"]["schedule"],
            p["lr"]["peak"],
            p["init"],
            sequence_label(p),
            metadata_label(p),
        ]
        for p in phases
    ]
    header = [
        "phase",
        "tokens",
        "LR schedule",
        "peak LR",
        "starts from",
        "sequences (token share per length)",
        "metadata prefix",
    ]
    return "<h2>Curriculum</h2>" + svg(fig) + table(header, rows, numeric_from=1)


def sequence_label(phase: dict) -> str:
    """What a phase trains on: concatenated windows, or its mix of decomposed piece lengths and their order."""
    spec: dict = phase.get("sequence") or {}
    if spec.get("mode", "concat") == "concat":
        return "concatenated windows of the context"
    lengths = spec["lengths"]
    total = sum(lengths.values())
    order = {"cyclic": f"cyclic x{spec.get('cycles', 8)}", "short_to_long": "short to long"}.get(
        spec.get("schedule", "fixed"), "fixed"
    )
    return f"decomposed, {order}: " + ", ".join(
        f"{n} {100 * w / total:.0f}%" for n, w in sorted(lengths.items())
    )


def metadata_label(phase: dict) -> str:
    spec = phase.get("metadata")
    if not spec:
        return "none (plain text)"
    return f"{json.dumps(spec['template'])} for the first {100 * spec.get('until', 0.9):.0f}% of the tokens, then plain"


def metrics(run: RunData, relative: str) -> list[dict]:
    path = run.path / relative
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def eval_records(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("val")]


def training_curves(run: RunData) -> str | None:
    records = metrics(run, "train/metrics.jsonl")
    evals = eval_records(records)
    if not evals:
        return None
    fig, ax = figure(9, 4)
    starts: dict[str, int] = {}
    for record in (
        records
    ):  # the trainer counts tokens over the whole run; a phase starts at its first record
        starts.setdefault(record["phase"], record["tokens"])
    for phase, tokens in starts.items():
        ax.axvline(tokens, color="#bbb", lw=0.8)
        ax.text(tokens, 1.0, f" {phase}", transform=ax.get_xaxis_transform(), fontsize=7, va="top")
    for index, domain in enumerate(sorted(evals[-1]["val"])):
        ax.plot(
            [r["tokens"] for r in evals],
            [r["val"].get(domain) for r in evals],
            "-o",
            ms=2,
            color=f"C{index}",
            label=domain,
        )
    ax.set(
        xlabel="training tokens",
        ylabel="validation loss",
        title="Per-domain validation loss over the curriculum",
    )
    ax.legend(fontsize=8)
    return "<h2>Training</h2>" + svg(fig)


def last_eval_of(evals: list[dict], phase_prefix: str) -> dict | None:
    chosen = [r for r in evals if r["phase"].startswith(phase_prefix)]
    return chosen[-1]["val"] if chosen else None


def predicted_change(fit: dict, share: float) -> tuple[float, float, float]:
    """The plan's general-loss change at R = ``share`` against its reference, with its interval."""
    change = fit.get("general_change") or {}
    if not change.get("ratios"):  # callers pass only fits that have one
        raise ValueError("the plan's fit has no general_change ratios to predict the change from")

    def at(key: str) -> float:
        return float(np.interp(share, change["ratios"], change[key]))

    return at("change"), at("low"), at("high")


def predicted_vs_measured(run: RunData, fits: dict, spec: dict, train_dir: str) -> list[list]:
    evals = eval_records(metrics(run, f"{train_dir}/metrics.jsonl"))
    before, after = last_eval_of(evals, "general"), last_eval_of(evals, "cpt")
    if not (before and after):
        return []
    mixture = next(p for p in spec["phases"] if p["name"].startswith("cpt"))["mixture"]
    measured = after[spec["general_domain"]] - before[spec["general_domain"]]
    shares = {
        d: mixture.get(d, {}).get("share", 0.0)
        for d, fit in fits.items()
        if fit.get("general_change")
    }
    shares = {d: share for d, share in shares.items() if share}

    def row(
        label: str, fit: dict, share: float, predicted, predicted_domain, measured_domain
    ) -> list:
        control = fit.get("control_general_change")
        against_reference = measured - (
            control if fit.get("epsilon_reference") == "control" else 0.0
        )
        covered = predicted[1] <= against_reference <= predicted[2]
        return [
            train_dir,
            label,
            share,
            predicted[0],
            format_interval(predicted[1:]),
            measured,
            control,
            against_reference,
            fit["epsilon"],
            "yes" if against_reference <= fit["epsilon"] else "NO",
            "yes" if covered else "NO",
            predicted_domain,
            measured_domain,
        ]

    rows = [
        row(
            d,
            fits[d],
            share,
            predicted_change(fits[d], share),
            float(PowerLaw(**fits[d]["domain_ratio_law"])(share)),
            after.get(d),
        )
        for d, share in shares.items()
    ]
    if len(shares) > 1:
        curves = {d: DomainCurve.from_fit(d, fits[d]) for d in shares}
        joint = predict({d: c for d, c in curves.items() if c is not None}, shares)
        first = fits[next(iter(shares))]  # every domain's fit has the plan's reference and ε
        together = sum(shares.values())
        rows.append(
            row(
                "all domains (joint)",
                first,
                together,
                (joint.change, joint.low, joint.high),
                None,
                None,
            )
        )
    return rows


def plan_check(run: RunData) -> str | None:
    fits, spec = domain_fits(run), yaml_file(run, "plan/curriculum.yaml")
    if not (fits and spec):
        return None
    rows = predicted_vs_measured(run, fits, spec, "train")
    validate = yaml_file(run, "plan/curriculum.validate.yaml")
    if validate:
        rows += predicted_vs_measured(run, fits, validate, "train-validate")
    if not rows:
        return None
    header = [
        "run",
        "domain",
        "share",
        "predicted ΔL_gen",
        "interval",
        "measured ΔL_gen vs base",
        "control ΔL_gen vs base (pilots)",
        "measured vs reference",
        "ε",
        "within ε",
        "inside interval",
        "predicted L_dom",
        "measured L_dom",
    ]
    return (
        "<h2>Does the plan hold?</h2><p>Predicted: the plan's general-loss change at R = the planned share "
        "(linear between pilot ratios), against its reference, with its interval (the joint row: the joint "
        "model's prediction for the whole mixture). Measured: the change of the general validation "
        "loss over the continual pre-training phases of the final run (train) and of the run at the domains' "
        "shares scaled up to min(1.5×, 1) (train-validate, with <code>plan.validate</code>); against the control, "
        "the control pilot's own change is subtracted.</p>" + table(header, rows, numeric_from=2)
    )


PLAN_SECTIONS = [law_fits, joint_mixture, curriculum_figure, training_curves, plan_check]
