"""Report sections for planning and training: law fits, the curriculum, training curves, and
whether the plan held (what the CMR law predicted against what the final run measured).

The prediction for a domain planned at share s is read from its pilot laws at R = s: the general
loss at the budget, L_gen(s), against the base model's L_gen(M) + ε, and the domain loss L_dom(s).
The measurement is the final run's validation loss at the end of its continual pre-training
(the last CPT phase) against the end of its general phase. With several domains the pilots saw
one domain at a time, so each domain's row predicts for that domain alone; the joint row reads
every domain's general-loss law at R = all domains' shares together (the assumption of the rule
that combined them) and takes the largest rise.
"""
from __future__ import annotations

import base64
import html
import json

import yaml

from pipeline.formatting import format_interval
from pipeline.report_blocks import RunData, figure, svg, table
from stages.plan.laws import PowerLaw


def yaml_file(run: RunData, relative: str):
    path = run.path / relative
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def law_fits(run: RunData) -> str | None:
    fits = yaml_file(run, "plan/fit.yaml")
    if not fits:
        return None
    rows, images = [], []
    for domain, fit in fits.items():
        rows.append([domain, fit.get("cmr"), format_interval(fit.get("ci") or [None, None]), fit.get("used"),
                     fit.get("binding") or "-", fit.get("cmr_epsilon"), fit.get("cmr_turnaround"), "; ".join(fit.get("warnings") or [])])
        plot = run.path / f"plan/plots/{domain}.png"
        if plot.is_file():
            data = base64.b64encode(plot.read_bytes()).decode()
            images.append(f"<img alt='CMR fit for {html.escape(domain)}' src='data:image/png;base64,{data}' style='max-width:100%'>")
    header = ["domain", "CMR", "CI", "view used", "binding", "ε view", "turnaround view", "warnings"]
    return "<h2>Critical mixture ratio per domain</h2>" + table(header, rows) + "".join(images)


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
    rows = [[p["name"], p["tokens"], p["lr"]["schedule"], p["lr"]["peak"], p["init"], sequence_label(p),
             metadata_label(p)] for p in phases]
    header = ["phase", "tokens", "LR schedule", "peak LR", "starts from", "sequences (token share per length)",
              "metadata prefix"]
    return "<h2>Curriculum</h2>" + svg(fig) + table(header, rows, numeric_from=1)


def sequence_label(phase: dict) -> str:
    """What a phase trains on: concatenated windows, or its mix of decomposed piece lengths and their order."""
    spec = phase.get("sequence") or {}
    if spec.get("mode", "concat") == "concat":
        return "concatenated windows of the context"
    lengths = spec["lengths"]
    total = sum(lengths.values())
    order = {"cyclic": f"cyclic x{spec.get('cycles', 8)}", "short_to_long": "short to long"}.get(spec.get("schedule"), "fixed")
    return f"decomposed, {order}: " + ", ".join(f"{n} {100 * w / total:.0f}%" for n, w in sorted(lengths.items()))


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
    starts = {}
    for record in records:  # the trainer counts tokens over the whole run; a phase starts at its first record
        starts.setdefault(record["phase"], record["tokens"])
    for phase, tokens in starts.items():
        ax.axvline(tokens, color="#bbb", lw=0.8)
        ax.text(tokens, 1.0, f" {phase}", transform=ax.get_xaxis_transform(), fontsize=7, va="top")
    for index, domain in enumerate(sorted(evals[-1]["val"])):
        ax.plot([r["tokens"] for r in evals], [r["val"].get(domain) for r in evals], "-o", ms=2, color=f"C{index}", label=domain)
    ax.set(xlabel="training tokens", ylabel="validation loss", title="Per-domain validation loss over the curriculum")
    ax.legend(fontsize=8)
    return "<h2>Training</h2>" + svg(fig)


def last_eval_of(evals: list[dict], phase_prefix: str) -> dict | None:
    chosen = [r for r in evals if r["phase"].startswith(phase_prefix)]
    return chosen[-1]["val"] if chosen else None


def predicted_vs_measured(run: RunData, fits: dict, spec: dict, train_dir: str) -> list[list]:
    evals = eval_records(metrics(run, f"{train_dir}/metrics.jsonl"))
    before, after = last_eval_of(evals, "general"), last_eval_of(evals, "cpt")
    if not (before and after):
        return []
    mixture = next(p for p in spec["phases"] if p["name"].startswith("cpt"))["mixture"]
    measured_rise = after[spec["general_domain"]] - before[spec["general_domain"]]
    shares = {d: mixture.get(d, {}).get("share", 0.0) for d, fit in fits.items()
              if fit.get("general_ratio_law") and fit.get("baseline_losses")}
    shares = {d: share for d, share in shares.items() if share}

    def general_rise(domain: str, ratio: float) -> float:
        return float(PowerLaw(**fits[domain]["general_ratio_law"])(ratio)) - fits[domain]["baseline_losses"][0]

    def row(label: str, share: float, predicted_rise: float, epsilon: float, predicted_domain, measured_domain) -> list:
        return [train_dir, label, share, predicted_rise, measured_rise, epsilon,
                "yes" if measured_rise <= epsilon else "NO", predicted_domain, measured_domain]

    rows = [row(d, share, general_rise(d, share), fits[d]["epsilon"],
                float(PowerLaw(**fits[d]["domain_ratio_law"])(share)), after.get(d)) for d, share in shares.items()]
    if len(shares) > 1:
        together = sum(shares.values())
        rows.append(row("all domains (joint)", together, max(general_rise(d, together) for d in shares),
                        min(fits[d]["epsilon"] for d in shares), None, None))
    return rows


def plan_check(run: RunData) -> str | None:
    fits, spec = yaml_file(run, "plan/fit.yaml"), yaml_file(run, "plan/curriculum.yaml")
    if not (fits and spec):
        return None
    rows = predicted_vs_measured(run, fits, spec, "train")
    validate = yaml_file(run, "plan/curriculum.validate.yaml")
    if validate:
        rows += predicted_vs_measured(run, fits, validate, "train-validate")
    if not rows:
        return None
    header = ["run", "domain", "share", "predicted ΔL_gen", "measured ΔL_gen", "ε", "within ε", "predicted L_dom", "measured L_dom"]
    return ("<h2>Does the plan hold?</h2><p>Predicted from the pilot laws at R = the planned share (the joint row: at R = "
            "all domains' shares together, the largest rise of any domain's law); measured as the change of the general "
            "validation loss over the continual pre-training phases of the final run.</p>"
            + table(header, rows, numeric_from=2))


PLAN_SECTIONS = [law_fits, curriculum_figure, training_curves, plan_check]
