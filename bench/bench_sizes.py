"""The CMR at a target model size, planned from pilots at three widths, against a pilot sweep at the
target width itself; and what the size law's interval costs, on synthetic sized curves.

Default (the real trainer, on CPU): curate ``--config`` once, then three plans, each in its own run
directory (a copy of the curated run):

- ``one``: pilots at the largest width alone (today's plan, for the cost peer);
- ``sizes``: pilots at every width of ``--widths``, planned for the target (``plan.target.model`` =
  ``--target-width``, whose parameters the trainer counts);
- ``target``: the pilot sweep at the target width itself, whose own fit measures that size's CMR.

Printed per domain: the planned CMR and interval, each pilot size's own, the measured CMR at the
target; and per plan its pilot and base tokens and wall time. ``--synthetic`` instead measures the
size law on synthetic pilot curves (tests/stages/plan/cmr_shapes.py's shapes, AR(1) noise, run-to-run
spread), which forget less as the model grows by a law that is not the size law's
(ΔL_gen × (0.8 + 0.8·(N/1e6)^−0.4)): how wide the target's interval is, and what a third size or a
second seed buys.

    .venv/bin/python bench/bench_sizes.py                  # the demo: widths 64 96 128, target 256
    .venv/bin/python bench/bench_sizes.py --config configs/tiny.yaml --small   # minutes, a proof
    .venv/bin/python bench/bench_sizes.py --synthetic      # the README's table of sizes and seeds
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The tiny test flow's short pilots (tests/test_outputs_unchanged.py SMALL): a proof, not a measurement.
SMALL = [
    "plan.base_tokens=8000",
    "plan.pilots.tokens=12288",
    "plan.pilots.ratios=[0.25,0.5,1.0]",
    "plan.pilots.eval_points=8",
    "plan.pilots.first_eval_tokens=1024",
    "plan.bootstrap=20",
]


def sets(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def plan_run(config: str, run: Path, overrides: list[str]) -> tuple[dict, float]:
    """``critmix plan`` in ``run``: its fit.yaml and wall seconds."""
    from pipeline.cli import main

    started = time.perf_counter()
    if main(["plan", "--config", config, "--run", str(run), *sets(overrides)]) != 0:
        raise SystemExit(f"plan failed in {run}")
    return yaml.safe_load((run / "plan/fit.yaml").read_text()), time.perf_counter() - started


def pilot_tokens(config: str, overrides: list[str], run: Path) -> tuple[int, int]:
    """(pilot tokens, base tokens) the plan's sizes trained, from their configs."""
    from pipeline.config import load_config
    from pipeline.planning.pilots import pilot_jobs
    from pipeline.planning.sizes import pilot_sizes
    from pipeline.rundir import RunDir

    sizes = pilot_sizes(load_config(config, overrides), RunDir(run), run / "tokens")
    joint = 1 if sizes[-1].config.plan.pilots.joint else 0
    pilots = sum((len(pilot_jobs(s.config)) + joint) * s.config.plan.pilots.tokens for s in sizes)
    return pilots, sum(s.config.plan.base_tokens for s in sizes)


def real(args) -> None:
    from pipeline.cli import main

    root = Path(args.root)
    curated = root / "curated"
    base = [*(SMALL if args.small else []), *args.set]
    if not (curated / "shards").exists():
        if main(["curate", "--config", args.config, "--run", str(curated), *sets(base)]) != 0:
            raise SystemExit("curate failed")
    widths = sorted(args.widths)
    plans = {
        "one": [f"plan.pilots.sizes=[{widths[-1]}]"],
        "sizes": [f"plan.pilots.sizes=[{','.join(map(str, widths))}]"],
        "target": [f"plan.pilots.sizes=[{args.target_width}]"],
    }
    fits, walls, tokens = {}, {}, {}
    for name, extra in plans.items():
        run = root / name
        if not run.exists():
            shutil.copytree(curated, run)
        if name == "sizes":
            extra.append(f"plan.target.model={args.target_width}")
        fits[name], walls[name] = plan_run(args.config, run, [*base, *extra])
        tokens[name] = pilot_tokens(args.config, [*base, *extra], run)
    report(fits, walls, tokens, widths, args.target_width)


def report(fits: dict, walls: dict, tokens: dict, widths: list[int], target_width: int) -> None:
    for domain, fit in fits["sizes"].items():
        if not isinstance(fit, dict) or "size_law" not in fit:
            continue
        law = fit["size_law"]
        own = ", ".join(f"{s['params']:.3g}: {s['cmr']:.3f}" for s in law["sizes"])
        measured = fits["target"][domain]
        print(
            f"{domain}: planned {law['cmr']:.3f} [{law['ci'][0]:.3f}, {law['ci'][1]:.3f}] at "
            f"{law['target_params']:.3g} parameters (width {target_width}); measured there "
            f"{fmt(measured['cmr'])} {fmt_ci(measured['ci'])}; each pilot size's own: {own}; "
            f"the largest pilot alone (width {widths[-1]}): {fmt(fits['one'][domain]['cmr'])}"
        )
    for name, (pilots, base) in tokens.items():
        print(f"{name}: {pilots:,} pilot tokens, {base:,} base tokens, {walls[name]:.0f} s")


def fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def fmt_ci(ci) -> str:
    return "[-]" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


# --- synthetic: what the target's interval costs in sizes and seeds ---------------------------


def forgetting(params: float) -> float:
    """How much of the base shape's general-loss change a model of ``params`` has: less as it grows."""
    return 0.8 + 0.8 * (params / 1e6) ** -0.4


@dataclass
class Design:
    """Pilot sizes and seeds; the sizes below the largest may run fewer ratios or a share of the length."""

    sizes: list[float]
    seeds: int
    smaller_ratios: tuple[float, ...] | None = None  # None: every ratio
    smaller_length: float = 1.0

    def cost(self) -> float:
        """In full pilot sweeps (every ratio, full length, one seed)."""
        from tests.stages.plan.cmr_shapes import RATIOS

        share = len(self.smaller_ratios or RATIOS) / len(RATIOS) * self.smaller_length
        return ((len(self.sizes) - 1) * share + 1) * self.seeds


def sized_shape_curves(shape: str, design: Design, trial: int):
    import numpy as np

    from tests.stages.plan.cmr_shapes import BASE_GENERAL, PILOT_TOKENS, RATIOS, make_curves

    sets_ = []
    for i, params in enumerate(design.sizes):
        smaller = i < len(design.sizes) - 1
        ratios = (design.smaller_ratios or RATIOS) if smaller else RATIOS
        curves = make_curves(shape, seed=1000 * trial + i, seeds=design.seeds, ratios=ratios)
        curves["general_loss"] = BASE_GENERAL + forgetting(params) * (
            curves["general_loss"] - BASE_GENERAL
        )
        curves["params"] = np.full(curves["ratio"].shape, params)
        keep = curves["tokens"] <= (design.smaller_length if smaller else 1.0) * PILOT_TOKENS
        sets_.append({k: v[keep] for k, v in curves.items()})
    return {k: np.concatenate([c[k] for c in sets_]) for k in sets_[0]}


def synthetic(args) -> None:
    from stages.plan.cmr.sizes import fit_across_sizes
    from stages.plan.settings import FitSettings
    from tests.stages.plan.cmr_shapes import EPSILON, PILOT_TOKENS, true_cmr

    three = [1e6, 2e6, 4e6]
    designs = {
        "2 sizes × 2 seeds": Design([2e6, 4e6], 2),
        "3 sizes × 1 seed": Design(three, 1),
        "3 sizes × 2 seeds": Design(three, 2),
        "3 sizes × 2 seeds, the smaller two at 3 ratios": Design(three, 2, (1 / 4, 1 / 2, 1.0)),
        "3 sizes × 2 seeds, the smaller two at half length": Design(three, 2, smaller_length=0.5),
        "4 sizes × 2 seeds": Design([0.5e6, *three], 2),
    }
    target = 16e6  # 4x the largest pilot
    settings = FitSettings(
        draws=args.draws, epsilon=EPSILON, budget=PILOT_TOKENS, reference="base"
    ).at(target_params=target)
    print(f"target {target:.3g} parameters (4x the largest pilot), {args.trials} trials per shape")
    for name, design in designs.items():
        for shape in ("recovery", "logistic"):
            truth = true_cmr(shape, epsilon=EPSILON / forgetting(target))
            own_truth = true_cmr(shape, epsilon=EPSILON / forgetting(design.sizes[-1]))
            rows = []
            for trial in range(args.trials):
                curves = sized_shape_curves(shape, design, trial)
                fits, laws = fit_across_sizes(curves, settings)
                fit, law = fits["synth"], laws["synth"]
                largest = law["sizes"][-1]["cmr"]
                low, high = fit.ci
                rows.append(
                    (abs(fit.cmr - truth), low <= truth <= high, high - low, abs(largest - truth))
                )
            error, covered, width, own = zip(*rows)
            print(
                f"{name}, {shape}: cost {design.cost():g} sweeps; median error "
                f"{statistics.median(error):.3f}, coverage {sum(covered) / len(covered):.2f}, median "
                f"width {statistics.median(width):.3f}; the largest pilot's own CMR is "
                f"{statistics.median(own):.3f} off (truth {truth:.3f}, largest's {own_truth:.3f})"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--root", default="runs/bench-sizes", help="the bench's run directories")
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 96, 128])
    parser.add_argument("--target-width", type=int, default=256)
    parser.add_argument("--small", action="store_true", help="the tiny test flow's short pilots")
    parser.add_argument("--set", action="append", default=[], help="more config overrides")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--draws", type=int, default=30, help="bootstrap draws per synthetic fit")
    args = parser.parse_args()
    synthetic(args) if args.synthetic else real(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
