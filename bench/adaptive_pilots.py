"""Adaptive pilot ratios against fixed ones, on simulated pilots and on the real reference curves
(``bench/bench_pilots.py --synthetic``). No training: the pilots are tests/pipeline/planning/pilot_shapes'
shapes (not the fitter's law; AR(1) noise; two seeds) and the curves of tests/data.

1. At equal pilots (12: the default six ratios × 2 seeds, against at most 12 adaptive): coverage of
   the true CMR, median interval width, mean pilot tokens spent (in pilot lengths; the adaptive
   loop's early stops and unspent rounds spend less), per family and noise level.
2. The pilot tokens each design needs for a 0.15-wide interval: fixed at 3…10 evenly spread ratios
   (the first whose median width is ≤ 0.15), adaptive with target_width 0.15 and 24 pilots at most.
   The design families' adaptive rows give the calibration: the factor their intervals still need to
   cover 0.95, on top of ADAPTIVE_WIDENING (≤ 1: it is enough).
3. The real curves as an oracle: the loop trains a ratio the CSV holds as its curve, and one between
   two as their curves interpolated linearly in R (``oracle_train``), cut where the trainer's rule
   would stop them; the truth is the fit on all six real curves.
"""

from __future__ import annotations

import time

import numpy as np

from pipeline.planning.adaptive import ADAPTIVE_WIDENING, AdaptiveDesign, adaptive_pilots
from stages.plan.cmr.fit import fit_domain
from stages.plan.data.curves import read_curves
from stages.plan.settings import FitSettings
from tests.pipeline.planning.pilot_shapes import (
    DESIGN_FAMILIES,
    FAMILIES,
    FIXED_RATIOS,
    NOISES,
    REAL_CURVES,
    Outcome,
    adaptive_draw,
    fixed_draw,
    oracle_train,
    synthetic_fit,
)

TARGET = 0.15
EQUAL = AdaptiveDesign(target_width=0.0, max_pilots=2 * len(FIXED_RATIOS))


def summary(rows: list[Outcome]) -> str:
    covered = np.mean([r.covered for r in rows])
    width = np.median([r.width for r in rows])
    tokens = np.mean([r.tokens for r in rows])
    return f"coverage {covered:4.2f}  width {width:5.3f}  tokens {tokens:5.1f}"


def equal_pilots(draws: int) -> None:
    print(f"1. equal pilots ({EQUAL.max_pilots}), {draws} draws per row")
    for noise in NOISES:
        for family in FAMILIES:
            fixed = [fixed_draw(family, d, noise) for d in range(draws)]
            adaptive = [adaptive_draw(family, d, noise, EQUAL) for d in range(draws)]
            print(
                f"  {family:16s} noise {noise:.3f}  fixed: {summary(fixed)}   "
                f"adaptive: {summary(adaptive)}",
                flush=True,
            )


def tokens_to_target(draws: int, noise: float = NOISES[1]) -> None:
    print(f"2. pilot tokens (pilot lengths) to a {TARGET} interval, noise {noise}, {draws} draws")
    design = AdaptiveDesign(target_width=TARGET, max_pilots=24)
    needed = []
    for family in FAMILIES:
        fixed = "more than 20"
        for count in range(3, 11):
            ratios = tuple((i + 1) / count for i in range(count))
            rows = [fixed_draw(family, d, noise, ratios) for d in range(draws)]
            if np.median([r.width for r in rows]) <= TARGET:
                fixed = f"{2 * count} ({count} ratios; {summary(rows)})"
                break
        rows = [adaptive_draw(family, d, noise, design) for d in range(draws)]
        if family in DESIGN_FAMILIES:
            needed += [r.needed for r in rows]
        reached = np.mean([r.reached for r in rows])
        print(
            f"  {family:16s} fixed: {fixed}\n  {'':16s} adaptive: median "
            f"{np.median([r.tokens for r in rows]):.1f}, {reached:.0%} reached it; {summary(rows)}",
            flush=True,
        )
    print(
        f"  calibration: the design families' adaptive intervals need x{np.quantile(needed, 0.95):.2f}"
        f" to cover 0.95 (ADAPTIVE_WIDENING = {ADAPTIVE_WIDENING} already applied)"
    )


def real_curves() -> None:
    curves = read_curves(REAL_CURVES)
    settings = FitSettings(draws=50)
    full = fit_domain(curves, "legal", settings)
    assert full.ci is not None and full.cmr is not None
    length = curves["tokens"].max()
    ratios = np.unique(curves["ratio"])
    print(
        f"3. real curves ({REAL_CURVES.name}: {ratios.size} ratios x 1 seed): all six give "
        f"CMR {full.cmr:.3f} in [{full.ci[0]:.3f}, {full.ci[1]:.3f}], width {full.ci[1] - full.ci[0]:.3f}, "
        f"{ratios.size:.1f} pilot lengths"
    )

    fit = synthetic_fit(50, 0, "legal", None)

    four = [0.25, 0.5, 0.75, 1.0]
    pick = np.isin(curves["ratio"], four)
    e = fit({k: v[pick] for k, v in curves.items()})
    print(
        f"  fixed {four}: CMR {e.cmr:.3f} in [{e.ci[0]:.3f}, {e.ci[1]:.3f}], width {e.width:.3f}, 4.0 lengths"
    )
    for target, pilots in ((TARGET, 12), (0.0, 6)):
        design = AdaptiveDesign(target_width=target, max_pilots=pilots, seeds=1)
        run = adaptive_pilots(oracle_train(curves, "legal"), fit, design)
        e = run.estimate
        print(
            f"  adaptive, target {target}, at most {pilots} pilots: trained "
            f"{[round(r, 3) for r in run.ratios]}, stopped early {sorted(run.stopped)}; "
            f"CMR {e.cmr and round(e.cmr, 3)} in [{e.ci[0]:.3f}, {e.ci[1]:.3f}], width {e.width:.3f}, "
            f"covers the six's CMR: {e.ci[0] <= full.cmr <= e.ci[1]}; "
            f"{run.rounds[-1].tokens / length:.2f} pilot lengths"
        )


def compare(draws: int) -> None:
    started = time.perf_counter()
    real_curves()
    equal_pilots(draws)
    tokens_to_target(draws)
    print(f"({time.perf_counter() - started:.0f} s)")
