"""The joint check pilot (``plan.pilots.joint``): after the fit, one more pilot at the planned mixture,
as long as the other pilots and from the same base, whose measured general-loss change the plan
sets beside the joint prediction at the same tokens (``stages.plan.cmr.joint_mixture.JointCheck``).

It trains here even when the other pilots were imported: it needs the fit, which runs here. Its
directory is named by its shares (per ten thousand), so a plan whose shares moved trains a new one
and a plan rerun with the same shares finds it done.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config import CritmixConfig
from pipeline.planning.curricula import joint_pilot_curriculum
from pipeline.planning.pilots import evaluations, pilot_overrides
from pipeline.planning.trainer_runs import run_trainer, train_args
from pipeline.progress import console
from pipeline.rundir import RunDir
from stages.plan.cmr.joint_mixture import DomainCurve, JointCheck, predict
from trainer.curriculum import write_curriculum


def joint_pilot_dir(run: RunDir, shares: dict[str, float]) -> Path:
    parts = [f"{d}{round(s * 10_000):05d}" for d, s in sorted(shares.items()) if s > 0]
    return run / f"plan/pilots/joint-{'-'.join(parts) or 'general'}"


def has_weights(model: Path) -> bool:
    """Whether a model directory holds weights: imported pilots may come back without them."""
    return any(model.glob("*.safetensors"))


def run_joint_pilot(
    config: CritmixConfig,
    run: RunDir,
    config_path: Path,
    tokens: Path,
    base: Path,
    shares: dict[str, float],
) -> Path:
    out = joint_pilot_dir(run, shares)
    if not (out / "final/config.json").exists():
        spec = out.with_suffix(".curriculum.yaml")
        write_curriculum(joint_pilot_curriculum(config, shares, base), spec)
        console.print(
            "joint check pilot: "
            + ", ".join(f"{d} {s:.3f}" for d, s in shares.items() if s > 0)
            + f", {config.plan.pilots.tokens:,} tokens"
        )
        run_trainer(
            train_args(config_path, spec, tokens, out, *pilot_overrides(config, 0)),
            out.with_suffix(".log"),
            threads=1,
        )
    return out


def measured_change(metrics: Path, general_domain: str, fit: dict) -> tuple[float, float]:
    """(tokens, general-loss change) at a pilot's last evaluation against the fit's reference: the
    pilot's own start (the base model), less the control pilots' change there with ``control``."""
    evals = evaluations(metrics)
    change = evals[-1]["val"][general_domain] - evals[0]["val"][general_domain]
    if fit.get("epsilon_reference") == "control":
        change -= fit["control_general_change"]
    return float(evals[-1]["tokens"]), float(change)


def check_joint(
    config: CritmixConfig,
    run: RunDir,
    config_path: Path,
    tokens: Path,
    base: Path,
    fits_at_pilot_length: dict[str, dict],
    shares: dict[str, float],
) -> JointCheck:
    """Train the check pilot at ``shares`` and compare it with the joint prediction at its length
    (from ``fits_at_pilot_length``: the domains' fits with the budget at the pilot length)."""
    out = run_joint_pilot(config, run, config_path, tokens, base, shares)
    built = {d: DomainCurve.from_fit(d, fit) for d, fit in fits_at_pilot_length.items()}
    curves = {d: curve for d, curve in built.items() if curve is not None}
    reference = fits_at_pilot_length[next(iter(curves))]
    at, measured = measured_change(out / "metrics.jsonl", config.plan.general_domain, reference)
    return JointCheck(shares, at, predict(curves, shares), measured)
