"""Coverage and width of the CMR interval, and what each of its terms contributes (issue 22).

Per family of tests/stages/plan/cmr_families.py (the demo's layout: 4 ratios × 12 evaluations × 2
seeds), at the pilot length ("within") and with pilots 1/1.58 of the budget ("past"): the share of
draws whose interval at 0.5 / 0.8 / 0.95 holds the true CMR, then the 0.95 interval's median width
over the narrowest rescaling of it that covers 95% of draws (1.0 is as narrow as it can be). Then
the median half-width of each interval term, and the same terms on the reference curves in
tests/data (full, and cut at 1/1.58 against the full curves' law-free crossing).

    python bench/bench_interval.py [--draws 40] [--boot 10] [--families a,b] [--where within|past|both]
        [--no-reference]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stages.plan.cmr.fit import fit_pilots  # noqa: E402
from stages.plan.data.curves import law_free_cmr, pilots_of, read_curves  # noqa: E402
from stages.plan.settings import FitSettings  # noqa: E402
from tests.stages.plan.cmr_families import FAMILIES, HELD_OUT_FAMILIES  # noqa: E402
from tests.stages.plan.test_interval_coverage import (  # noqa: E402
    LENGTHS,
    coverage,
    draws_of,
    narrowest_rescaling,  # noqa: E402
)

LEVELS = (0.5, 0.8, 0.95)
REFERENCE = Path(__file__).resolve().parents[1] / "tests/data/cmr-small-scale-curves.csv"


def terms(result) -> dict:
    """Each term's half-width (the mean of its two sides), the bootstrap one around the centre."""
    out = {}
    centre = result.cmr_epsilon
    free = result.ci_parts.get("bootstrap_law_free")
    if free:
        out["bootstrap_law_free"] = (free[1] - free[0]) / 2
    for name, value in result.ci_errors.items():
        out[name] = float(np.mean(value))
    out["total"] = (result.ci_epsilon[1] - result.ci_epsilon[0]) / 2 if centre else np.nan
    return out


def median_terms(parts) -> str:
    names = sorted({k for p in parts for k in p})
    return ", ".join(f"{k} {np.nanmedian([p.get(k, np.nan) for p in parts]):.3f}" for k in names)


def reference_rows():
    curves = read_curves(REFERENCE)
    for domain in np.unique(curves["domain"]):
        pilots = pilots_of(curves, str(domain))
        truth = law_free_cmr(pilots, 0.05, pilots.pilot_tokens)
        for name, share in (("full", 1.0), ("cut 1/1.58", 1 / 1.58)):
            short = pilots.cut(share * pilots.pilot_tokens)
            for level in LEVELS:
                result = fit_pilots(
                    short, FitSettings(budget=pilots.pilot_tokens, level=level, draws=100)
                )
                low, high = result.ci
                print(
                    f"reference {domain} {name:10s} level {level:4}: truth {truth:.3f} "
                    f"cmr {result.cmr_epsilon:.3f} ci [{low:.3f}, {high:.3f}] "
                    f"{'covers' if low <= truth <= high else 'MISSES'}; {median_terms([terms(result)])}"
                )


def show(family, length, rows):
    parts = [terms(result) for *_, result in rows[0.95]]
    cover = "/".join(f"{coverage(rows[level]):.2f}" for level in LEVELS)
    widths = [h - lo for _, _, (lo, h), _ in rows[0.95]]
    where = "within" if length == 1.0 else "past"
    print(
        f"{family:16s} {where:7s}  {cover:18s}  {1 / narrowest_rescaling(rows[0.95]):5.2f}   "
        f"width {np.median(widths):.3f}; {median_terms(parts)}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=40)
    parser.add_argument("--boot", type=int, default=10)
    parser.add_argument("--families", default=",".join(sorted(FAMILIES)))
    parser.add_argument("--where", choices=("within", "past", "both"), default="both")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference curves")
    args = parser.parse_args()
    start = time.perf_counter()
    families = args.families.split(",")
    lengths = {"both": LENGTHS, "within": LENGTHS[:1], "past": LENGTHS[1:]}[args.where]
    print(f"{'family':16s} {'where':7s}  cover 0.5/0.8/0.95   width   median 0.95 terms")
    held_out: dict = {(length, level): [] for length in lengths for level in LEVELS}
    for index, family in enumerate(families):
        for length in lengths:
            rows = draws_of(family, length, args.draws, args.boot, LEVELS)
            show(family, length, rows)
            if family in HELD_OUT_FAMILIES:
                for level in LEVELS:
                    held_out[length, level] += rows[level]
        elapsed = time.perf_counter() - start
        print(
            f"  [{index + 1}/{len(families)} families, {elapsed:.0f} s, ETA "
            f"{elapsed / (index + 1) * (len(families) - index - 1):.0f} s]",
            file=sys.stderr,
        )
    for length in lengths:
        if held_out[length, LEVELS[0]]:
            show("held-out pooled", length, {level: held_out[length, level] for level in LEVELS})
    if not args.no_reference:
        reference_rows()


if __name__ == "__main__":
    main()
