"""``critmix law``: fit the critical-mixture-ratio law on pilot loss curves (``fit``), backtest it on
the same curves (``validate``), and compare it with the exponential data-mixing law of Ye et al. on the
same points (``compare``), and carry per-size CMRs to a target model size (``sizes``)."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import CritmixError
from pipeline.reporting.formatting import format_interval
from pipeline.reporting.law_console import (
    print_backtest,
    print_comparison,
    print_result,
    print_size_backtest,
    print_sweep,
)

CURVES_HELP = (
    "pilot curves CSV with columns domain,ratio,tokens,general_loss,domain_loss and optionally seed "
    "(replicate pilots; every fit uses all seeds); rows at tokens = 0 hold the model's losses before "
    "continual pre-training"
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "law",
        help="fit the CMR law on pilot loss curves",
        description="The critical mixture ratio (CMR) law of arXiv 2407.17467 on pilot curves: the largest "
        "domain share whose general loss stays within ε of the model before CPT.",
    )
    commands = parser.add_subparsers(
        dest="law_command", metavar="<fit|validate|compare|sizes>", required=True
    )
    fit = commands.add_parser(
        "fit",
        help="CMR per domain with CI, both views, and the combined mixture",
        description="Fit the increment laws per ratio, the turnaround T0(R), the CMR law R(T) and the ε-tolerance "
        "view, then combine the domains into one mixture.",
    )
    _fit_arguments(fit)
    fit.add_argument(
        "--budget",
        type=float,
        metavar="TOKENS",
        help="CPT budget in raw tokens (default: the pilot budget, the largest tokens in the CSV)",
    )
    fit.add_argument(
        "--lambda-sweep",
        action="store_true",
        help="also show how the CMR moves with λ (100 … 7000, around lambda_balance, and ∞)",
    )
    fit.add_argument(
        "--epsilon-sweep",
        action="store_true",
        help="also show how the CMR moves with ε (0.01 … 0.2): ε binds on every real curve so far",
    )
    fit.add_argument(
        "--plots",
        type=Path,
        metavar="DIR",
        help="write one PNG per domain: trajectories, L(R), T0(R), R_CMR(T) with the budget",
    )
    fit.add_argument(
        "--target-params",
        metavar="N",
        help="plan for a model of N parameters (K, M, B suffixes allowed) from curves at two or more "
        "sizes (a params column); default: the largest pilot size",
    )
    _mixture_arguments(fit)
    fit.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fit.set_defaults(func=main)
    validate = commands.add_parser(
        "validate",
        help="backtest: plan from pilots cut at 1/2 and 1/4, check against the full curves",
        description="Cut every pilot at 1/2 and 1/4 of its tokens, predict the CMR at the full pilot length, and "
        "compare with the full-curve fit and the law-free crossing of the measured losses (errors, and whether "
        "each interval covered); leave one ratio out for the ε crossing.",
    )
    _fit_arguments(validate)
    validate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    validate.set_defaults(func=main)
    compare = commands.add_parser(
        "compare",
        help="held-out errors: CMR power law vs the exponential data-mixing law",
        description="Leave one ratio out, fit α·R^s + β and c + k·exp(t·R) on the other ratios' final losses, "
        "and print both predictions' relative errors on the held-out ratio.",
    )
    compare.add_argument("--curves", required=True, type=Path, metavar="CSV", help=CURVES_HELP)
    compare.add_argument(
        "--epsilon", type=float, default=0.05, help="ε, printed beside the errors (default 0.05)"
    )
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.set_defaults(func=main)
    sizes = commands.add_parser(
        "sizes",
        help="CMR at a target model size from CMRs you already have at two or more sizes",
        description='Fit the size law link(CMR) = a + b·ln N (docs/design.md, "The size law") to per-size '
        "CMRs, for example a paper's, and predict the CMR at --target-params with its interval.",
    )
    sizes.add_argument(
        "--cmr",
        required=True,
        nargs="+",
        metavar="N:CMR[:LO:HI]",
        help="a model size (parameters; K, M, B suffixes allowed), its CMR as a share, and "
        "optionally that CMR's interval, e.g. 460M:0.298 or 940M:0.349:0.33:0.37",
    )
    sizes.add_argument(
        "--target-params",
        required=True,
        metavar="N",
        help="parameter count of the model to plan for (K, M, B suffixes allowed)",
    )
    sizes.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the interval (default 0.95)"
    )
    sizes.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap draws within the per-size intervals (default 1000)",
    )
    sizes.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    sizes.add_argument("--json", action="store_true", help="print JSON instead of text")
    sizes.set_defaults(func=sizes_main)


def _fit_arguments(parser) -> None:
    parser.add_argument("--curves", required=True, type=Path, metavar="CSV", help=CURVES_HELP)
    parser.add_argument(
        "--lambda",
        dest="lam",
        type=float,
        default=1000.0,
        metavar="λ",
        help="Lagrange weight of the general-loss change (default 1000; 'inf' = peak of ΔL_gen); "
        "unit-free, see lambda_balance in the output",
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=0.05,
        help="tolerated rise of the general loss over the model before CPT, in loss units (default 0.05)",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=100,
        metavar="N",
        help="bootstrap refits for the confidence interval (default 100)",
    )
    parser.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the interval (default 0.95)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--reference",
        choices=("base", "control"),
        help="measure the general-loss change against the model before CPT (base) or the R = 0 "
        "control pilot at the same tokens (control); default: control when the curves have R = 0 "
        "rows, since against an unconverged base forgetting hides behind continued general training",
    )


def _mixture_arguments(parser) -> None:
    """The combined mixture's rule and risk, as ``critmix plan`` reads them from plan.mixture and
    plan.risk, so that ``law fit`` prints the shares a plan on these curves would choose."""
    from stages.plan.cmr.mixture import MIXTURE_RULES
    from stages.plan.settings import RISKS

    parser.add_argument(
        "--mixture",
        choices=list(MIXTURE_RULES),
        default="predicted",
        help="how the domains' shares are chosen, as plan.mixture (default predicted)",
    )
    parser.add_argument(
        "--risk",
        choices=list(RISKS),
        default="interval",
        help="what the predicted rule holds to ε, as plan.risk (default interval)",
    )


def main(args) -> int:
    from stages.plan.data.curves import read_curves

    try:
        curves = read_curves(args.curves)
        if args.law_command == "compare":
            return _compare(curves, args)
        if args.law_command == "validate":
            return _validate(curves, args)
        return _fit(curves, args)
    except FileNotFoundError as err:
        raise CritmixError(
            f"{err.filename}: no such file; write pilot curves first (make plan) or pass --curves"
        ) from err


SIZE_SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def parse_params(text: str) -> float:
    """A parameter count: a number, optionally with a K, M, B or T suffix (460M, 1.6B, 3.1e9)."""
    scale = SIZE_SUFFIXES.get(text[-1:].upper(), 1.0)
    try:
        return float(text[:-1] if scale != 1.0 else text) * scale
    except ValueError:
        raise CritmixError(
            f"{text!r} is not a parameter count; write e.g. 460M, 1.6B or 3.1e9"
        ) from None


def parse_size_cmr(text: str):
    """One ``--cmr`` value, N:CMR or N:CMR:LO:HI."""
    from stages.plan.laws.sizes import SizeCMR

    fields = text.split(":")
    if len(fields) not in (2, 4):
        raise CritmixError(
            f"--cmr {text}: write N:CMR or N:CMR:LO:HI, e.g. 460M:0.298 or 460M:0.298:0.28:0.31"
        )
    try:
        values = [float(v) for v in fields[1:]]
    except ValueError:
        raise CritmixError(
            f"--cmr {text}: CMR and its bounds must be numbers (shares, e.g. 0.298)"
        ) from None
    ci = None if len(values) == 1 else (values[1], values[2])
    if ci is not None and not ci[0] <= values[0] <= ci[1]:
        raise CritmixError(f"--cmr {text}: the interval must hold the CMR (LO <= CMR <= HI)")
    return SizeCMR(parse_params(fields[0]), values[0], ci)


def sizes_main(args) -> int:
    from stages.plan.laws.sizes import predict_cmr_at_size

    sizes = [parse_size_cmr(text) for text in args.cmr]
    result = predict_cmr_at_size(
        sizes,
        parse_params(args.target_params),
        level=args.level,
        draws=args.bootstrap,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    law = result.law
    print(
        f"CMR at {result.target_params:.4g} parameters: {result.cmr:.3f} {format_interval(result.ci)} "
        f"({args.level:g} interval)"
    )
    print(
        f"  size law ({law.form}): CMR = {law.a:.4g} + {law.b:.4g}·ln N, fitted on "
        + ", ".join(f"{s.params:.4g}: {s.cmr:.3f}" for s in result.sizes)
    )
    if result.errors:
        print(
            "  systematic errors added in quadrature: "
            + ", ".join(f"{k} {e:.3f}" for k, e in result.errors.items())
        )
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def fit_settings(args):
    """The fit's settings from the command line, as ``critmix plan`` sets them from ``plan.*``."""
    from stages.plan.settings import FitSettings

    target = getattr(args, "target_params", None)
    return FitSettings(
        lam=args.lam,
        epsilon=args.epsilon,
        budget=getattr(args, "budget", None),
        level=args.level,
        draws=args.bootstrap,
        seed=args.seed,
        reference=args.reference,
        target_params=None if target is None else parse_params(target),
    )


def _fit(curves, args) -> int:
    from stages.plan.cmr.mixture import MixtureInputs, plan_mixture
    from stages.plan.cmr.sizes import fit_across_sizes, largest_size
    from stages.plan.cmr.sweeps import epsilon_sweep, lambda_sweep

    settings = fit_settings(args)
    results, size_laws = fit_across_sizes(curves, settings)
    curves = largest_size(curves)  # the sweeps and plots are the largest pilot size's
    inputs = MixtureInputs(
        {d: r.to_dict() for d, r in results.items()}, {}, settings.epsilon, args.risk
    )
    mixture = plan_mixture(args.mixture, inputs)
    sweeps = {
        name: {d: sweep(curves, d, settings) for d in results}
        for name, sweep, wanted in (
            ("lambda_sweep", lambda_sweep, args.lambda_sweep),
            ("epsilon_sweep", epsilon_sweep, args.epsilon_sweep),
        )
        if wanted
    }
    if args.plots:
        from pipeline.reporting.law_plots import plot_domain

        for domain, result in results.items():
            if (
                result.ratios
            ):  # a fit that could use no ratio has nothing to draw; its warnings say why
                plot_domain(curves, result, args.plots / f"{domain}_cmr.png")
    if args.json:
        domains = {
            d: {**r.to_dict(), **({"size_law": size_laws[d]} if d in size_laws else {})}
            for d, r in results.items()
        }
        payload = {"domains": domains, "mixture": mixture.to_dict(), **sweeps}
        print(json.dumps(payload, indent=2, default=str))
        return 0
    for result in results.values():
        print_result(result)
        for name, rows in sweeps.items():
            print_sweep(name, rows[result.domain])
    print(
        f"\nmixture: general {mixture.general:.3f}, "
        + ", ".join(f"{d} {share:.3f}" for d, share in mixture.domains.items())
    )
    print(f"  rule: {mixture.rule}")
    if mixture.prediction is not None:
        predicted = mixture.prediction
        print(
            f"  predicted general-loss change at the budget: {predicted.change:+.4f} "
            f"[{predicted.low:+.4f}, {predicted.high:+.4f}] (ε {settings.epsilon})"
        )
    for note in mixture.warnings:
        print(f"  warning: {note}")
    return 0


def _compare(curves, args) -> int:
    import numpy as np

    from stages.plan.backtests.compare import compare_mixing_laws

    rows = [
        row
        for d in np.unique(curves["domain"])
        for row in compare_mixing_laws(curves, str(d), args.epsilon)
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_comparison(rows, args.epsilon)
    return 0


def _validate(curves, args) -> int:
    import numpy as np

    from stages.plan.backtests.sizes import backtest_report

    settings = fit_settings(args)
    reports = [backtest_report(curves, d, settings) for d in np.unique(curves["domain"])]
    if args.json:
        print(json.dumps(reports, indent=2, default=str))
    else:
        for report in reports:
            print_backtest(report)
            if "size_backtest" in report:
                print_size_backtest(report["size_backtest"])
    return 0
