"""Fit time of one domain's CMR (6 ratios x 40 evaluations, 100 bootstrap refits) against a plain
scipy curve_fit of the same increment laws with the same bootstrap, fitted one curve at a time; then
the fit with two seeds per ratio, and the backtest (`critmix law validate`), against that fit."""

import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stages.plan.backtests.backtest import validate  # noqa: E402
from stages.plan.cmr.fit import fit_domain  # noqa: E402
from stages.plan.data.curves import read_curves  # noqa: E402
from stages.plan.settings import FitSettings  # noqa: E402
from tests.stages.plan.cmr_shapes import make_curves as make_shape  # noqa: E402
from tests.stages.plan.cmr_synth import PILOT_TOKENS, make_curves  # noqa: E402

N_BOOT = 100


def best_of(repeats, run):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def general_law(t, a2, s2, a3, s3, b2):
    return a2 * t**s2 + a3 * t**s3 + b2


def domain_law(t, a1, s1, b1):
    return a1 * t**s1 + b1


def curve_fit_baseline(curves):
    """Per ratio: curve_fit both laws (general from 3 starts), then N_BOOT residual-bootstrap refits."""
    rng = np.random.default_rng(0)
    for ratio in np.unique(curves["ratio"]):
        pick = curves["ratio"] == ratio
        t = curves["tokens"][pick] / curves["tokens"].max()
        gen = curves["general_loss"][pick] - curves["general_loss"][pick][0]
        dom = curves["domain_loss"][pick] - curves["domain_loss"][pick][0]
        fits = []
        for law, y, starts in (
            (
                general_law,
                gen,
                [(0.1, 0.3, -0.1, 1.0, 0), (0.05, 0.2, -0.05, 0.8, 0), (0.2, 0.5, -0.2, 1.5, 0)],
            ),
            (domain_law, dom, [(-0.5, 0.4, 0)]),
        ):
            best = min(
                (
                    curve_fit(
                        law,
                        t,
                        y,
                        p0=p,
                        bounds=(
                            [-np.inf, 0.01, -np.inf, 0.01, -np.inf][: len(p)],
                            [np.inf, 3, np.inf, 3, np.inf][: len(p)],
                        ),
                        maxfev=5000,
                    )
                    for p in starts
                ),
                key=lambda fit: np.sum((law(t, *fit[0]) - y) ** 2),
            )
            fits.append((law, y, best[0]))
        for law, y, params in fits:
            residual = y - law(t, *params)
            for _ in range(N_BOOT):
                curve_fit(
                    law,
                    t,
                    law(t, *params) + rng.choice(residual, len(t)),
                    p0=params,
                    maxfev=5000,
                    bounds=(
                        [-np.inf, 0.01, -np.inf, 0.01, -np.inf][: len(params)],
                        [np.inf, 3, np.inf, 3, np.inf][: len(params)],
                    ),
                )


def main():
    synthetic = make_curves(seed=1)
    ours = best_of(
        5,
        lambda: fit_domain(
            synthetic, "finance", FitSettings(budget=0.6 * PILOT_TOKENS, draws=N_BOOT)
        ),
    )
    peer = best_of(1, lambda: curve_fit_baseline(synthetic))
    print(
        f"cmr_fit_one_domain: ours {ours:.3f} s vs scipy curve_fit loop {peer:.3f} s = {peer / ours:.1f}x "
        f"(6 ratios x 40 points, {N_BOOT} bootstrap refits; ours also fits the CMR and L(R) laws)"
    )
    real = read_curves(
        Path(__file__).resolve().parents[1] / "tests" / "data" / "cmr-small-scale-curves.csv"
    )
    ours_real = best_of(5, lambda: fit_domain(real, "legal", FitSettings(draws=N_BOOT)))
    print(
        f"cmr_fit_real_small_scale: ours {ours_real:.3f} s per domain (6 ratios x 21 points, {N_BOOT} bootstrap)"
    )
    seeded = make_shape("recovery", seeds=2, points=20)
    ours_seeds = best_of(3, lambda: fit_domain(seeded, "synth", FitSettings(draws=N_BOOT)))
    print(
        f"cmr_fit_two_seeds: {ours_seeds:.3f} s per domain (6 ratios x 2 seeds x 20 points, {N_BOOT} bootstrap) "
        f"= {ours_seeds / ours_real:.1f}x the one-seed real fit"
    )
    backtest = best_of(1, lambda: validate(real, "legal", FitSettings(draws=N_BOOT)))
    print(
        f"cmr_validate_real_small_scale: {backtest:.3f} s per domain (full fit + 2 cuts + 6 leave-one-out) "
        f"= {backtest / ours_real:.1f}x one fit"
    )


if __name__ == "__main__":
    main()
