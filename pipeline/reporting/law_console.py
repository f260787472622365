"""The console output of ``critmix law``: a fit's CMR and views, its sweeps, the law comparison and the backtest."""

from __future__ import annotations

from pipeline.reporting.formatting import format_half_width, format_interval, format_optional


def print_result(r) -> None:
    ci = "" if r.ci is None else f" (CI {format_optional(r.ci[0])}–{format_optional(r.ci[1])})"
    lam = "∞" if r.lam == float("inf") else f"{r.lam:g}"
    print(
        f"\n{r.domain}: CMR {format_optional(r.cmr)}{ci} at budget {r.budget:.4g} tokens "
        f"(pilot {r.pilot_tokens:.4g}, {r.seeds} seed(s) per ratio; λ {lam}, ε {r.epsilon:g} against the "
        f"{r.epsilon_reference}; "
        f"lambda_balance {format_optional(r.lambda_balance, '.3g')})"
    )
    views = r.epsilon_views
    print(
        f"  ε-tolerance view {format_optional(r.cmr_epsilon)} (joint law {format_optional(views.get('joint'))}, "
        f"per-ratio laws {format_optional(views.get('per_ratio'))}, law-free {format_optional(views.get('law_free'))}), "
        f"turnaround-law view {format_optional(r.cmr_turnaround)}; uses {r.used}, binding {r.binding or '-'}: {r.reason}"
    )
    if r.control_general_change is not None:
        print(
            f"  R = 0 control: general loss {r.control_general_change:+.4f} against the model before CPT at its last "
            f"evaluation"
        )
    if r.ci_parts:
        print(
            "  interval: "
            + ", ".join(f"{k} {format_interval(v)}" for k, v in r.ci_parts.items() if v)
            + f"; half-widths at level {r.level:g} added in quadrature: "
            + ", ".join(f"{k} {format_half_width(e)}" for k, e in r.ci_errors.items())
        )
    if r.extrapolation_calibration:
        c = r.extrapolation_calibration
        print(
            f"  extrapolation {c['factor']:.2f}× calibrated on {c['cuts']} cuts of the pilots "
            f"({c['errors']} errors): conformal quantile {c['quantile']:.3g} of the predicted scale"
        )
    print(
        f"  {'ratio':>7} {'T0 tokens':>11} {'T0≤budget':>9} {'L_gen@budget':>12} {'within ε':>8} {'ΔL_dom':>8} "
        f"{'R²dom':>6} {'R²gen':>6}"
    )
    for p in r.ratios:
        print(
            f"  {p.ratio:7.4f} {format_optional(p.t0, '11.4g'):>11} {str(p.feasible_turnaround):>9} "
            f"{p.general_loss_at_budget:12.4f} {str(p.feasible_epsilon):>8} {p.domain_loss_change_at_budget:8.4f} "
            f"{p.laws['r2_domain']:6.3f} {p.laws['r2_general']:6.3f}"
        )
    if r.cmr_law:
        law = r.cmr_law
        print(
            f"  CMR law R(T) = {law['alpha']:.4g}·(T/{law['t_scale']:.4g})^{law['s']:.3f} + {law['beta']:.4g}"
            f"  (MSE {law['mse']:.3g}, R² {law['r2']:.3f}); reliability: "
            + ", ".join(f"{k}={v}" for k, v in r.reliability.items())
        )
    for note in r.warnings:
        print(f"  warning: {note}")


def print_sweep(name, rows) -> None:
    knob, label = ("lambda", "λ") if name == "lambda_sweep" else ("epsilon", "ε")
    print(
        f"  {label} sweep: {label:>9} {'CMR':>6} {'turnaround':>10} {'ε view':>7} {'law-free':>8} {'binding':>10}"
    )
    for row in rows:
        print(
            f"           {row[knob]:>9g} {format_optional(row['cmr']):>6} {format_optional(row['cmr_turnaround']):>10} "
            f"{format_optional(row['cmr_epsilon']):>7} {format_optional(row['law_free']):>8} {row['binding'] or '-':>10}"
        )


def print_comparison(rows, epsilon) -> None:
    import numpy as np

    print(
        f"{'domain':>10} {'loss':>8} {'held out':>8} {'actual':>8} {'power law':>9} {'error':>8} "
        f"{'exp law':>8} {'error':>8}   (errors in loss units; ε = {epsilon:g})"
    )
    for row in rows:
        print(
            f"{row['domain']:>10} {row['loss']:>8} {row['held_out_ratio']:8.4f} {row['actual']:8.4f} "
            f"{row['power_law']:9.4f} {row['power_law_error']:+8.4f} {row['exp_law']:8.4f} {row['exp_law_error']:+8.4f}"
        )
    for loss in ("general", "domain"):
        picked = [r for r in rows if r["loss"] == loss]
        print(
            f"mean |error|, {loss} loss: power law {np.mean([abs(r['power_law_error']) for r in picked]):.4f}, "
            f"exp law {np.mean([abs(r['exp_law_error']) for r in picked]):.4f} (ε {epsilon:g}); relative "
            f"{100 * np.mean([r['power_law_rel_error'] for r in picked]):.3f}% / "
            f"{100 * np.mean([r['exp_law_rel_error'] for r in picked]):.3f}%"
        )


def print_backtest(report) -> None:
    """The backtest of one domain: each cut's errors and coverage, then leave-one-ratio-out."""
    print(
        f"\n{report['domain']}: backtest of the ε view ({report['law']} law) at the pilot length "
        f"{report['pilot_tokens']:.4g} tokens, ε {report['epsilon']:g}"
    )
    print(
        f"  full-curve fit {format_optional(report['full_fit'])} {format_interval(report['full_fit_ci'] or [None, None])}, "
        f"law-free {format_optional(report['law_free'])}"
    )
    print(
        f"  {'cut':>5} {'ratios':>6} {'predicted':>9} {'interval':>16} {'err vs fit':>10} {'err vs free':>11} "
        f"{'covers fit':>10} {'covers free':>11} {'per-ratio laws':>14}"
    )
    for cut in report["cuts"]:
        if cut["cmr"] is None:
            print(f"  {cut['share']:>5g} {cut['ratios']:>6}  {cut['note']}")
            continue
        print(
            f"  {cut['share']:>5g} {cut['ratios']:>6} {format_optional(cut['cmr']):>9} "
            f"{format_interval(cut['ci'] or [None, None]):>16} {format_optional(cut['error_vs_full_fit'], '+.3f'):>10} "
            f"{format_optional(cut['error_vs_law_free'], '+.3f'):>11} {str(cut['covers_full_fit']):>10} "
            f"{str(cut['covers_law_free']):>11} {format_optional(cut['per_ratio_view']):>14}"
        )
    print(
        f"  leave one ratio out: {'ratio':>7} {'CMR without':>11} {'err vs free':>11} {'ΔL_gen measured':>15} "
        f"{'joint':>8} {'per-ratio L(R)':>14}  (loss units; ε {report['epsilon']:g})"
    )
    for row in report["leave_one_ratio_out"]:
        print(
            f"                       {row['ratio']:7.4f} {row['cmr_without']:11.3f} "
            f"{format_optional(row['error_vs_law_free'], '+.3f'):>11} {row['measured_change']:15.4f} "
            f"{format_optional(row['joint_error'], '+.4f'):>8} {row['per_ratio_law_error']:+14.4f}"
        )


def print_size_backtest(report) -> None:
    """The size backtest of one domain: each pilot size's CMR, then the largest predicted without it."""
    print(
        "  pilot sizes: "
        + ", ".join(f"{s['params']:.4g} CMR {s['cmr']:.3f}" for s in report["sizes"])
    )
    if report["held_out_params"] is None:
        print(f"  size backtest: {report['note']}")
        return
    print(
        f"  size backtest: the smaller sizes predict {report['predicted']:.3f} "
        f"{format_interval(report['ci'])} at {report['held_out_params']:.4g} parameters, whose own "
        f"CMR is {report['measured']:.3f} (error {report['error']:+.3f}, covered: {report['covered']})"
    )
    for note in report["notes"]:
        print(f"    note: {note}")
