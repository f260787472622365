"""``critmix plan``: pilot runs -> fitted CMR law per domain -> ``plan/curriculum.yaml``.

1. Tokenize the run's shards (skipped when up to date; ``pipeline/planning/trainer_runs.py``).
2. Base model and pilots (``pipeline/planning/pilots.py``), here or exported to another host
   (``pipeline/planning/remote_pilots.py``).
3. ``plan/curves.csv``, the CMR fit per domain, the mixture of rule ``plan.mixture``
   (``stages/plan/cmr/mixture.py``), by default planned on the joint prediction of every domain's
   pilots and checked by one pilot at the planned mixture (``pipeline/planning/joint_pilot.py``), and
   the curriculum (``pipeline/planning/curricula.py``): a general phase, continual pre-training at the
   planned mixture with quality ascending within it, and a short anneal on the top quality tier.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pipeline.commands.args import add_config_args, load_args_config, require_shards, run_dir_for
from pipeline.config import CritmixConfig
from pipeline.planning.adaptive_runs import adaptive_fits
from pipeline.planning.curricula import (
    PlanError,
    bucket_tokens,
    planned_curriculum,
    validation_curriculum,
)
from pipeline.planning.fit_settings import fit_settings
from pipeline.planning.remote_pilots import export_pilots, import_pilots
from pipeline.planning.sizes import (
    collect_sized_curves,
    require_configured_size,
    target_size,
    train_sizes,
)
from pipeline.planning.trainer_runs import ensure_tokens, save_resolved_config, write_yaml
from pipeline.progress import console
from pipeline.reporting.formatting import format_interval, format_optional
from pipeline.rundir import RunDir
from stages.plan.cmr.mixture import JOINT_KEY
from stages.plan.cmr.sizes import largest_size
from stages.plan.data.curves import read_curves
from trainer.curriculum import load_curriculum, write_curriculum


def plot_fits(fits: dict, curves: dict, run: RunDir) -> None:
    from pipeline.reporting.law_plots import plot_domain

    for domain, fit in fits.items():
        if fit.ratios:  # a fit that could use no ratio has nothing to draw; fit.yaml says why
            plot_domain(curves, fit, run / f"plan/plots/{domain}.png")


def fit_domains(config: CritmixConfig, curves: dict) -> tuple[dict, dict]:
    """Per domain, the fit at the target size and the size law behind it (empty for one size)."""
    from stages.plan.cmr.sizes import fit_across_sizes

    fits, size_laws = fit_across_sizes(curves, fit_settings(config))
    for domain, law in size_laws.items():
        console.print(
            f"{domain}: CMR {law['cmr']:.3f} {format_interval(law['ci'])} at {law['target_params']:.4g} "
            "parameters; each pilot size's own: "
            + ", ".join(f"{s['params']:.4g} {s['cmr']:.3f}" for s in law["sizes"])
        )
    return fits, size_laws


def backtest_domains(config: CritmixConfig, curves: dict, fits: dict) -> dict[str, dict]:
    """``critmix law validate`` on every fitted domain: how well the pilots predict what they had not seen."""
    from stages.plan.backtests.sizes import backtest_report

    settings = fit_settings(config)
    reports = {
        d: backtest_report(curves, d, settings) for d, fit in fits.items() if fit.cmr is not None
    }
    for report in reports.values():
        half = next(cut for cut in report["cuts"] if cut["share"] == 0.5)
        if half["cmr"] is not None:
            console.print(
                f"backtest {report['domain']}: pilots cut at half predict {half['cmr']:.3f} "
                f"{format_interval(half['ci'])} for the law-free {format_optional(report['law_free'])} "
                f"(covered: {half['covers_law_free']})"
            )
        sized = report.get("size_backtest") or {}
        if sized.get("held_out_params"):
            console.print(
                f"size backtest {report['domain']}: the smaller sizes predict {sized['predicted']:.3f} "
                f"{format_interval(sized['ci'])} for the largest's own {sized['measured']:.3f}"
            )
    return reports


def planned_mixture(config: CritmixConfig, fits: dict[str, dict], offset: float = 0.0):
    """The mixture of rule ``plan.mixture`` over the planned domains' fits (fit.yaml's form), keeping the
    hand-set shares (``plan.ratios``); ``offset`` shifts every joint prediction (the check's correction)."""
    from stages.plan.cmr.mixture import MixtureInputs, plan_mixture

    manual = config.plan.ratios
    unknown = sorted(set(manual) - set(config.plan_domains()))
    if unknown:
        raise PlanError(
            f"plan.ratios names {unknown}, which are not planned domains {config.plan_domains()}"
        )
    planned = {d: fits[d] for d in config.plan_domains()}
    inputs = MixtureInputs(planned, dict(manual), config.plan.epsilon, config.plan.risk, offset)
    return plan_mixture(config.plan.mixture, inputs)


def planned_shares(
    config: CritmixConfig, fits: dict[str, dict], mixture, joint: dict
) -> tuple[dict[str, float], dict[str, dict], list[str]]:
    """Per-domain shares and how each was chosen: by hand (``plan.ratios``) or by the mixture rule,
    with the joint prediction of the whole mixture and, with the check pilot, its measurement."""
    manual = config.plan.ratios
    shares, chosen, notes = dict(mixture.domains), {}, list(mixture.warnings)
    for domain in config.plan_domains():
        fit = fits[domain]
        if domain in manual:
            upper = (fit["ci"] or [fit["cmr"]] * 2)[1]
            chosen[domain] = {"method": "manual", "cmr": fit["cmr"], "ci": fit["ci"]}
            if upper is not None and manual[domain] > upper:
                notes.append(
                    f"{domain}: the hand-set share {manual[domain]:.3f} exceeds its CMR upper bound {upper:.3f}; "
                    f"the general loss is predicted to rise by more than epsilon={config.plan.epsilon}"
                )
        else:
            check = joint.get("check") or {}
            rule = {
                "mixture": config.plan.mixture,
                "rule": mixture.rule,
                "joint_predicted": joint["predicted"],
                "joint_measured": check.get("measured"),
                "joint_corrected_by": (joint.get("correction") or {}).get("offset"),
            }
            if domain in mixture.efficiency:
                rule["domain_loss_per_general_loss"] = mixture.efficiency[domain]
            chosen[domain] = {"method": "cmr_law", **rule, **fit}
    general = 1.0 - sum(shares.values())
    if general < 0:
        raise PlanError(f"the domain shares sum to {1 - general:.3f} > 1; lower plan.ratios")
    return shares, chosen, notes


def joint_mixture(config: CritmixConfig, run: RunDir, trained: dict, curves: dict, fits: dict):
    """The planned mixture, checked by the joint pilot (``plan.pilots.joint``) and planned again with
    the pilot's miss when it falls outside the predicted interval; and its record for fit.yaml.
    ``trained``: what training the check pilot needs (config_path, tokens, base)."""
    from pipeline.planning.joint_pilot import check_joint, has_weights

    mixture = planned_mixture(config, fits)
    if not (config.plan.pilots.joint and mixture.prediction):
        return mixture, mixture_record(config, mixture)
    if not has_weights(trained["base"]):
        mixture.warnings.append(
            f"plan.pilots.joint: the base model {trained['base']} has no weights here (imported without "
            "them), so the joint check pilot did not run; copy them back and plan again"
        )
        return mixture, mixture_record(config, mixture)
    check = check_joint(
        config,
        run,
        **trained,
        fits_at_pilot_length=pilot_length_fits(config, curves, fits),
        shares=mixture.domains,
    )
    if not check.offset:
        return mixture, {**mixture_record(config, mixture), "check": check.to_dict()}
    corrected = planned_mixture(config, fits, check.offset)
    outcome = (
        f"the shares corrected from {format_shares(mixture.domains)} to {format_shares(corrected.domains)}"
        if corrected.domains != mixture.domains
        else "the shares stand: they are set by hand or by a rule that does not read the prediction"
    )
    corrected.warnings.append(
        f"the joint check pilot measured a general-loss change of {check.measured:+.4f} where "
        f"{check.predicted.change:+.4f} {format_interval([check.predicted.low, check.predicted.high])} "
        f"was predicted: every joint prediction is shifted by {check.offset:+.4f} and {outcome}"
    )
    correction = {"offset": check.offset, "shares_before": mixture.domains}
    record = mixture_record(config, corrected)
    return corrected, {**record, "check": check.to_dict(), "correction": correction}


def format_shares(shares: dict[str, float]) -> str:
    return ", ".join(f"{d} {s:.3f}" for d, s in shares.items())


def pilot_length_fits(config: CritmixConfig, curves: dict, fits: dict) -> dict[str, dict]:
    """The domains' fits at the pilots' own length and size, where the check pilot measures."""
    from stages.plan.cmr.fit import fit_cmr

    settings = fit_settings(config)
    if settings.budget == config.plan.pilots.tokens and settings.target_params is None:
        return fits
    at_pilots = settings.at(budget=config.plan.pilots.tokens, target_params=None)
    return {d: f.to_dict() for d, f in fit_cmr(largest_size(curves), at_pilots).items()}


def mixture_record(config: CritmixConfig, mixture) -> dict:
    """fit.yaml's ``joint mixture``: the rule, its shares and their joint prediction at the budget."""
    plan = config.plan
    return {
        "rule": plan.mixture,
        "how": mixture.rule,
        "risk": plan.risk,
        "epsilon": plan.epsilon,
        "level": plan.level,
        "shares": mixture.domains,
        "predicted": mixture.prediction and mixture.prediction.to_dict(),
        "domain_loss_per_general_loss": mixture.efficiency,
        "warnings": list(mixture.warnings),
    }


def print_joint(record: dict) -> None:
    predicted, check = record["predicted"], record.get("check")
    if predicted:
        console.print(
            f"joint mixture ({record['rule']}, risk {record['risk']}): predicted ΔL_gen at the budget "
            f"{predicted['change']:+.4f} {format_interval([predicted['low'], predicted['high']])} "
            f"for epsilon {record['epsilon']}"
        )
    if check:
        console.print(
            f"joint check pilot at {check['tokens']:,.0f} tokens: measured {check['measured']:+.4f}, predicted "
            f"{check['predicted']['change']:+.4f} {format_interval([check['predicted']['low'], check['predicted']['high']])}"
            + (
                ""
                if check["inside"]
                else f": outside, every prediction shifted by {check['offset']:+.4f}"
            )
        )


def plan(config: CritmixConfig, run: RunDir) -> Path:
    config_path = save_resolved_config(config, run)
    tokens = ensure_tokens(run, config_path)
    target = target_size(config, run, tokens)
    if target:  # the fit answers for the trainer's own count of the target model
        config = copy.deepcopy(config)
        config.plan.target.params = target.params
    sizes, trained = train_sizes(config, run, config_path, tokens)
    curves = read_curves(collect_sized_curves(sizes, run))
    results, size_laws = fit_domains(config, curves)
    if config.plan.pilots.adaptive and not size_laws:
        results = adaptive_fits(run, results)
    backtests = backtest_domains(config, curves, results)
    fits = {d: f.to_dict() for d, f in results.items()}
    largest = sizes[-1]  # the joint check pilot trains at the largest size, as its fits are
    mixture, joint = joint_mixture(largest.config, largest.run, trained, curves, fits)
    print_joint(joint)
    shares, chosen, notes = planned_shares(config, fits, mixture, joint)
    buckets = bucket_tokens(run / "shards")
    trains = target.config if target else config  # its base phase and learning rates
    spec = planned_curriculum(trains, shares, chosen, buckets, notes)
    for note in spec.warnings + [w for fit in results.values() for w in fit.warnings]:
        console.print(f"[yellow]warning:[/] {note}")
    sized = {d: {"size_law": law} for d, law in size_laws.items()}  # only with a target size
    write_yaml(
        run / "plan/fit.yaml",
        {
            **{d: {**f, "backtest": backtests.get(d), **sized.get(d, {})} for d, f in fits.items()},
            JOINT_KEY: joint,  # not a domain name: those have no spaces
        },
    )
    plot_fits(results, largest_size(curves), run)
    if config.plan.validate:
        write_curriculum(
            validation_curriculum(trains, shares, buckets), run / "plan/curriculum.validate.yaml"
        )
    path = run / "plan/curriculum.yaml"
    write_curriculum(spec, path)
    return path


def print_plan(path: Path) -> None:
    from rich.table import Table

    phases = load_curriculum(path).phases
    cpt = next(p for p in phases if p.name.startswith("cpt"))
    table = Table(title=f"planned mixture ({path})")
    for column in ("domain", "share", "chosen by", "CMR", "CI", "binding"):
        table.add_column(column)
    for domain, entry in cpt.mixture.items():
        how = entry.chosen_by
        ci = how.get("ci")
        table.add_row(
            domain,
            f"{entry.share:.3f}",
            how["method"],
            format_optional(how.get("cmr")),
            format_interval(ci) if ci else "-",
            str(how.get("binding") or "-"),
        )
    console.print(table)
    prefixed = [(p.name, p.metadata) for p in phases if p.metadata]
    if prefixed:
        console.print(
            f"metadata prefix {json.dumps(prefixed[0][1].template)} on "
            + ", ".join(f"{name} ({100 * meta.until:.0f}% of it)" for name, meta in prefixed)
            + ", then plain text"
        )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="pilot runs -> fitted CMR law -> curriculum.yaml",
        description="Train a base model on general data, run continual pre-training pilots per domain and ratio, "
        "fit the critical-mixture-ratio law, and write <run>/plan/curriculum.yaml. Finished pilots are skipped. "
        "Set a domain's share by hand with --set plan.ratios.<domain>=0.2 (recorded in the plan).",
    )
    add_config_args(parser)
    parser.add_argument(
        "--export-pilots",
        metavar="DIR",
        help="instead of training here, write DIR/run_pilots.sh with the token shards, curricula, "
        "config and trainer/ it needs to train the base model and the pilots on another host (a GPU)",
    )
    parser.add_argument(
        "--import-pilots",
        metavar="DIR",
        help="first copy the base model and pilots finished in an exported DIR into the run; "
        "the plan then goes straight to curves, fit and curriculum",
    )
    parser.set_defaults(func=main)


def main(args) -> int:
    config = load_args_config(args)
    with RunDir(run_dir_for(args, config)) as run:
        require_shards(run.path, args)
        if args.export_pilots or args.import_pilots:
            require_configured_size(config, "--export-pilots/--import-pilots")
        if args.export_pilots:
            script = export_pilots(config, run, Path(args.export_pilots))
            parallel = config.plan.pilots.parallel
            console.print(
                f"wrote {script}: run it on the GPU host (`{script} {parallel}` trains {parallel} pilots at a "
                f"time), copy its plan/ back, then `./critmix plan --import-pilots {args.export_pilots}`"
            )
            return 0
        if args.import_pilots:
            import_pilots(config, run, Path(args.import_pilots))
        path = plan(config, run)
    print_plan(path)
    return 0
