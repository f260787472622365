"""``critmix law``: fit the critical-mixture-ratio law on pilot loss curves (``fit``) and compare it
with the exponential data-mixing law of Ye et al. on the same points (``compare``)."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.formatting import format_optional
from trainer.errors import CritmixError

CURVES_HELP = ("pilot curves CSV with columns domain,ratio,tokens,general_loss,domain_loss; rows at "
               "tokens = 0 hold the model's losses before continual pre-training")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "law", help="fit the CMR law on pilot loss curves",
        description="The critical mixture ratio (CMR) law of arXiv 2407.17467 on pilot curves: the largest "
        "domain share whose general loss stays within ε of the model before CPT.")
    commands = parser.add_subparsers(dest="law_command", metavar="<fit|compare>", required=True)
    fit = commands.add_parser(
        "fit", help="CMR per domain with CI, both views, and the combined mixture",
        description="Fit the increment laws per ratio, the turnaround T0(R), the CMR law R(T) and the ε-tolerance "
        "view, then combine the domains into one mixture.")
    fit.add_argument("--curves", required=True, type=Path, metavar="CSV", help=CURVES_HELP)
    fit.add_argument("--lambda", dest="lam", type=float, default=1000.0, metavar="λ",
                     help="Lagrange weight of the general-loss change (default 1000; 'inf' = peak of ΔL_gen); "
                     "unit-free, see lambda_balance in the output")
    fit.add_argument("--epsilon", type=float, default=0.05,
                     help="tolerated rise of the general loss over the model before CPT, in loss units (default 0.05)")
    fit.add_argument("--budget", type=float, metavar="TOKENS",
                     help="CPT budget in raw tokens (default: the pilot budget, the largest tokens in the CSV)")
    fit.add_argument("--bootstrap", type=int, default=100, metavar="N",
                     help="bootstrap refits for the confidence interval (default 100)")
    fit.add_argument("--level", type=float, default=0.95, help="confidence level of the interval (default 0.95)")
    fit.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    fit.add_argument("--lambda-sweep", action="store_true",
                     help="also show how the CMR moves with λ (100 … 7000, around lambda_balance, and ∞)")
    fit.add_argument("--plots", type=Path, metavar="DIR",
                     help="write one PNG per domain: trajectories, L(R), T0(R), R_CMR(T) with the budget")
    fit.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fit.set_defaults(func=main)
    compare = commands.add_parser(
        "compare", help="held-out errors: CMR power law vs the exponential data-mixing law",
        description="Leave one ratio out, fit α·R^s + β and c + k·exp(t·R) on the other ratios' final losses, "
        "and print both predictions' relative errors on the held-out ratio.")
    compare.add_argument("--curves", required=True, type=Path, metavar="CSV", help=CURVES_HELP)
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.set_defaults(func=main)


def main(args) -> int:
    from stages.plan import cmr

    try:
        curves = cmr.read_curves(args.curves)
        if args.law_command == "compare":
            return _compare(curves, args)
        return _fit(curves, args)
    except FileNotFoundError as err:
        raise CritmixError(f"{err.filename}: no such file; write pilot curves first (make plan) or pass --curves") from err
    except ValueError as err:
        raise CritmixError(str(err)) from err


def _fit(curves, args) -> int:
    from stages.plan import cmr

    results = cmr.fit_cmr(curves, args.lam, args.epsilon, args.budget, args.bootstrap, args.level, args.seed)
    mixture = cmr.combine_domains({d: r.cmr for d, r in results.items()})
    sweeps = ({d: cmr.lambda_sweep(curves, d, epsilon=args.epsilon, budget=args.budget) for d in results}
              if args.lambda_sweep else {})
    if args.plots:
        from pipeline.law_plots import plot_domain

        for domain, result in results.items():
            if result.ratios:  # a fit that could use no ratio has nothing to draw; its warnings say why
                plot_domain(curves, result, args.plots / f"{domain}_cmr.png")
    if args.json:
        payload = {"domains": {d: r.to_dict() for d, r in results.items()}, "mixture": mixture.to_dict()}
        if sweeps:
            payload["lambda_sweep"] = sweeps
        print(json.dumps(payload, indent=2, default=str))
        return 0
    for result in results.values():
        _print_result(result)
        if sweeps:
            _print_sweep(sweeps[result.domain])
    print(f"\nmixture: general {mixture.general:.3f}, " +
          ", ".join(f"{d} {share:.3f}" for d, share in mixture.domains.items()))
    print(f"  rule: {mixture.rule}")
    for note in mixture.warnings:
        print(f"  warning: {note}")
    return 0


def _print_result(r) -> None:
    ci = "" if r.ci is None else f" (CI {format_optional(r.ci[0])}–{format_optional(r.ci[1])})"
    lam = "∞" if r.lam == float("inf") else f"{r.lam:g}"
    print(f"\n{r.domain}: CMR {format_optional(r.cmr)}{ci} at budget {r.budget:.4g} tokens "
          f"(pilot {r.pilot_tokens:.4g}; λ {lam}, ε {r.epsilon:g}; lambda_balance {format_optional(r.lambda_balance, '.3g')})")
    print(f"  ε-tolerance view {format_optional(r.cmr_epsilon)}, turnaround-law view {format_optional(r.cmr_turnaround)}; "
          f"uses {r.used}, binding {r.binding or '-'}: {r.reason}")
    print(f"  {'ratio':>7} {'T0 tokens':>11} {'T0≤budget':>9} {'L_gen@budget':>12} {'within ε':>8} {'ΔL_dom':>8} "
          f"{'R²dom':>6} {'R²gen':>6}")
    for p in r.ratios:
        print(f"  {p.ratio:7.4f} {format_optional(p.t0, '11.4g'):>11} {str(p.feasible_turnaround):>9} "
              f"{p.general_loss_at_budget:12.4f} {str(p.feasible_epsilon):>8} {p.domain_loss_change_at_budget:8.4f} "
              f"{p.laws['r2_domain']:6.3f} {p.laws['r2_general']:6.3f}")
    if r.cmr_law:
        law = r.cmr_law
        print(f"  CMR law R(T) = {law['alpha']:.4g}·(T/{law['t_scale']:.4g})^{law['s']:.3f} + {law['beta']:.4g}"
              f"  (MSE {law['mse']:.3g}, R² {law['r2']:.3f}); reliability: "
              + ", ".join(f"{k}={v}" for k, v in r.reliability.items()))
    for note in r.warnings:
        print(f"  warning: {note}")


def _print_sweep(rows) -> None:
    print(f"  λ sweep: {'λ':>9} {'CMR':>6} {'turnaround':>10} {'ε view':>7} {'binding':>10}")
    for row in rows:
        print(f"           {row['lambda']:>9g} {format_optional(row['cmr']):>6} {format_optional(row['cmr_turnaround']):>10} "
              f"{format_optional(row['cmr_epsilon']):>7} {row['binding'] or '-':>10}")


def _compare(curves, args) -> int:
    import numpy as np

    from stages.plan import cmr

    rows = [row for d in np.unique(curves["domain"]) for row in cmr.compare_mixing_laws(curves, str(d))]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'domain':>10} {'loss':>8} {'held out':>8} {'actual':>8} {'power law':>9} {'err %':>7} "
          f"{'exp law':>8} {'err %':>7}")
    for row in rows:
        print(f"{row['domain']:>10} {row['loss']:>8} {row['held_out_ratio']:8.4f} {row['actual']:8.4f} "
              f"{row['power_law']:9.4f} {100 * row['power_law_rel_error']:7.3f} {row['exp_law']:8.4f} "
              f"{100 * row['exp_law_rel_error']:7.3f}")
    for loss in ("general", "domain"):
        picked = [r for r in rows if r["loss"] == loss]
        print(f"mean relative error, {loss} loss: power law {100 * np.mean([r['power_law_rel_error'] for r in picked]):.3f}%"
              f", exp law {100 * np.mean([r['exp_law_rel_error'] for r in picked]):.3f}%")
    return 0
