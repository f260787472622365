"""Pilot loss curves: reading the CSV, one domain's curves as padded arrays, and the law-free ε crossing.

A curve is one pilot run: a domain, a ratio R, a seed, and its evaluations (tokens, general loss,
domain loss). Rows at tokens = 0 hold the model before continual pre-training. Several seeds per
ratio are replicate runs (other data order, other initial noise); without a ``seed`` column every
ratio has one. An optional ``params`` column holds each pilot model's parameter count: curves at
several sizes, each fitted apart (stages/plan/cmr/sizes.py); without it the curves are one size.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace

import numpy as np

from core.errors import CritmixError

COLUMNS = ("domain", "ratio", "tokens", "general_loss", "domain_loss")
OPTIONAL_COLUMNS = ("seed",)
SIZE_COLUMN = "params"  # read when present; the pilots of one size do not write it
MIN_POINTS_PER_RATIO = 5  # with the origin, one point more than the general law has parameters
MIN_RATIOS = 3  # both ratio laws have three


def read_curves(path) -> dict[str, np.ndarray]:
    """Columns of a pilot-curve CSV as arrays; ``seed`` is 0 everywhere when the CSV has no such column."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = [c for c in COLUMNS if not rows or c not in rows[0]]
    if missing:
        raise CritmixError(
            f"{path}: missing column(s) {', '.join(missing)}; the CSV needs the header "
            f"{','.join(COLUMNS)} (optionally ,seed) and at least one row"
        )
    curves = {"domain": np.array([r["domain"] for r in rows])}
    try:
        for name in COLUMNS[1:]:
            curves[name] = np.array([float(r[name]) for r in rows])
        curves["seed"] = np.array([int(r.get("seed") or 0) for r in rows])
        if SIZE_COLUMN in rows[0]:
            curves[SIZE_COLUMN] = np.array([float(r[SIZE_COLUMN]) for r in rows])
    except (TypeError, ValueError) as err:
        raise CritmixError(
            f"{path}: a value is not a number ({err}); ratio, tokens and the losses are numbers, "
            f"seed a whole number, on every row"
        ) from err
    if SIZE_COLUMN in curves and not (curves[SIZE_COLUMN] > 0).all():
        raise CritmixError(
            f"{path}: every params value must be a positive parameter count (e.g. 1.57e6)"
        )
    return curves


@dataclass
class Pilots:
    """One domain's CPT curves, shape (ratios, seeds, points): each curve starts at (0, 0, 0), the
    model before CPT, and is padded with weight-0 points to the longest one."""

    domain: str
    baseline: tuple[float, float]  # (general, domain) loss of the model before CPT
    ratios: np.ndarray
    tokens: np.ndarray
    d_general: np.ndarray
    d_domain: np.ndarray
    weights: np.ndarray
    warnings: list[str]
    reference: str = "base"  # what the general-loss change is measured against (see pilots_of)
    control_general_change: float | None = (
        None  # the R = 0 control's change against the base, at its end
    )

    @property
    def pilot_tokens(self) -> float:
        return float(self.tokens[self.weights > 0].max()) if self.ratios.size else 0.0

    @property
    def seeds(self) -> int:
        return self.tokens.shape[1]

    def cut(self, max_tokens: float) -> Pilots:
        """The same pilots as if they had stopped at ``max_tokens``; ratios left with too few points drop out."""
        weights = np.where(self.tokens <= max_tokens * (1 + 1e-9), self.weights, 0.0)
        keep = (weights[:, :, 1:].sum(axis=-1) >= MIN_POINTS_PER_RATIO).all(axis=1)

        def pick(a):
            return a[keep]

        return replace(
            self,
            ratios=pick(self.ratios),
            tokens=pick(self.tokens),
            d_general=pick(self.d_general),
            d_domain=pick(self.d_domain),
            weights=pick(weights),
            warnings=[],
        )

    def without(self, index: int) -> Pilots:
        keep = np.arange(self.ratios.size) != index
        return replace(
            self,
            ratios=self.ratios[keep],
            tokens=self.tokens[keep],
            d_general=self.d_general[keep],
            d_domain=self.d_domain[keep],
            weights=self.weights[keep],
            warnings=[],
        )

    def flat(self, array):
        """(ratios, seeds, points) -> (ratios, seeds·points): every seed of a ratio in one fitted row."""
        return array.reshape(array.shape[0], -1)


REFERENCES = ("base", "control")


def pilots_of(curves, domain: str, reference: str | None = None) -> Pilots:
    """One domain's usable pilot curves, with warnings for what was left out.

    ``reference``: what the general-loss change is measured against. "base": the model before CPT,
    the paper's reading. "control": the R = 0 pilot (general data only, same tokens) at the same
    tokens; with a base that has not converged, general data alone keeps lowering the general loss,
    and against the base a mixture's forgetting hides behind that progress, while against the control
    ε measures what the domain data costs. None: "control" when the curves hold R = 0 rows, else "base"."""
    rows = curves["domain"] == domain
    seed = curves.get("seed", np.zeros(rows.size, int))[rows]  # absent column = one seed
    ratio, tokens = curves["ratio"][rows], curves["tokens"][rows]
    gen, dom = curves["general_loss"][rows], curves["domain_loss"][rows]
    base = tokens == 0
    if not base.any():
        raise CritmixError(
            f"domain {domain!r}: no rows at tokens = 0; add the model's general and domain "
            f"losses before CPT (one row per ratio with tokens = 0)"
        )
    baseline = (float(gen[base].mean()), float(dom[base].mean()))
    control = _control_change(ratio, tokens, gen, baseline[0])
    reference = reference or ("control" if control else "base")
    if reference not in REFERENCES:
        raise CritmixError(f"reference {reference!r}: use one of {', '.join(REFERENCES)}")
    if reference == "control" and not control:
        raise CritmixError(
            f"domain {domain!r}: no R = 0 control rows to measure the general loss against; "
            f"run the control pilot (plan.pilots.control) or use the reference 'base'"
        )
    shift = control[0] if reference == "control" else (lambda t: np.zeros_like(t))
    warnings, usable = [], {}
    for r in np.unique(ratio[ratio > 0]):
        runs = []
        for s in np.unique(seed[ratio == r]):
            pick = (ratio == r) & (seed == s) & (tokens > 0)
            order = np.argsort(tokens[pick])
            t = tokens[pick][order]
            # (0, 0) belongs to every curve: without it a rise that ends before the first evaluation
            # is invisible and the fit misses the turnaround.
            runs.append(
                [
                    np.concatenate([[0.0], v])
                    for v in (
                        t,
                        gen[pick][order] - baseline[0] - shift(t),
                        dom[pick][order] - baseline[1],
                    )
                ]
            )
        fewest = min(len(run[0]) - 1 for run in runs)
        if fewest < MIN_POINTS_PER_RATIO:
            warnings.append(
                f"ratio {r:g}: only {fewest} CPT points, need ≥ {MIN_POINTS_PER_RATIO}; "
                f"ratio skipped (evaluate the pilot more often)"
            )
            continue
        usable[float(r)] = runs
    pilots = _padded(domain, baseline, usable, warnings)
    pilots.reference = reference
    pilots.control_general_change = None if not control else control[1]
    return pilots


def _control_change(ratio, tokens, gen, baseline_general):
    """(general-loss change of the R = 0 control against the base as a function of tokens, that change
    at the control's last evaluation), seeds averaged; () without control rows."""
    pick = (ratio == 0) & (tokens > 0)
    if not pick.any():
        return ()
    points = np.unique(tokens[pick])
    change = np.array([gen[pick][tokens[pick] == t].mean() for t in points]) - baseline_general
    points, change = np.concatenate([[0.0], points]), np.concatenate([[0.0], change])
    return (lambda t: np.interp(t, points, change)), float(change[-1])


def _padded(domain, baseline, usable, warnings) -> Pilots:
    seeds = max((len(runs) for runs in usable.values()), default=1)
    width = max((len(run[0]) for runs in usable.values() for run in runs), default=1)
    arrays = np.zeros((3, len(usable), seeds, width))
    weights = np.zeros((len(usable), seeds, width))
    for row, runs in enumerate(usable.values()):
        for column, run in enumerate(runs):
            arrays[:, row, column, : len(run[0])] = run
            weights[row, column, : len(run[0])] = 1.0
    arrays[0][weights == 0] = 1.0  # tokens of padding: any positive value, it has weight 0
    if len({len(runs) for runs in usable.values()}) > 1:
        warnings.append("ratios have different numbers of seeds; every fit uses all of them")
    tokens, d_general, d_domain = arrays
    return Pilots(
        domain, baseline, np.array(list(usable)), tokens, d_general, d_domain, weights, warnings
    )


def at_tokens(pilots: Pilots, values, budget: float):
    """Measured values at ``budget`` tokens, linear between evaluations, averaged over seeds.

    ``values`` has the pilots' shape with optional batch axes between ratio and seed: (ratios, ..., seeds,
    points). NaN for a ratio whose pilots stop before the budget."""
    tokens = np.where(pilots.weights > 0, pilots.tokens, np.inf)
    count = (pilots.weights > 0).sum(axis=-1)
    upper = np.minimum(
        (tokens < budget).sum(axis=-1), count - 1
    )  # first evaluation at or past the budget
    lower = np.maximum(upper - 1, 0)

    def take(a, i):
        return np.take_along_axis(a, i[..., None], axis=-1)[..., 0]

    t0, t1 = take(pilots.tokens, lower), take(pilots.tokens, upper)
    frac = np.where(t1 > t0, (budget - t0) / np.where(t1 > t0, t1 - t0, 1.0), 1.0)
    reached = take(pilots.tokens, count - 1) >= budget * (1 - 1e-9)
    extra = values.ndim - pilots.tokens.ndim

    def expand(a):
        return a.reshape(a.shape[:1] + (1,) * extra + a.shape[1:])

    lower, upper, frac, reached = map(expand, (lower, upper, frac, reached))
    value = (1 - frac) * take(values, np.broadcast_to(lower, values.shape[:-1])) + frac * take(
        values, np.broadcast_to(upper, values.shape[:-1])
    )
    return np.where(reached.all(axis=-1), value.mean(axis=-1), np.nan)


TURN_NOISE = 2.0  # how many noise levels below its peak a ratio's general loss must end to have turned


def general_loss_turns(pilots: Pilots) -> np.ndarray:
    """Per ratio: whether the measured general loss (seeds averaged) came down from a peak within the
    pilots, by more than TURN_NOISE times its noise (the spread of its successive differences, which
    a smooth curve hardly has: median absolute difference / (0.6745 · sqrt 2)). A law fitted to a loss
    that never turned can still place a turnaround, past the pilots, that nothing measured."""
    out = []
    for row in range(pilots.ratios.size):
        valid = (pilots.weights[row] > 0).all(axis=0)
        mean = pilots.d_general[row][:, valid].mean(axis=0)
        if mean.size < 3:
            out.append(False)
            continue
        noise = np.median(np.abs(np.diff(mean[1:]))) / (0.6745 * np.sqrt(2))
        out.append(bool(mean.max() - mean[-1] > TURN_NOISE * max(noise, 1e-12)))
    return np.array(out, dtype=bool)


def piecewise_crossing(ratios, values, threshold):
    """Largest R with value ≤ threshold on the line through (ratios, values) per batch row (last axis =
    ratios): 0 when the smallest ratio is already above it, the largest ratio when none is."""
    values = np.atleast_2d(values)
    ok = values <= threshold
    last = np.where(ok.any(axis=-1), ratios.size - 1 - np.argmax(ok[:, ::-1], axis=-1), -1)
    nxt = np.minimum(last + 1, ratios.size - 1)
    v0 = np.take_along_axis(values, np.maximum(last, 0)[:, None], -1)[:, 0]
    v1 = np.take_along_axis(values, nxt[:, None], -1)[:, 0]
    with np.errstate(all="ignore"):
        frac = np.clip(np.where(v1 > v0, (threshold - v0) / (v1 - v0), 0.0), 0, 1)
    r = ratios[np.maximum(last, 0)] + frac * (ratios[nxt] - ratios[np.maximum(last, 0)])
    crossing = np.where(last < 0, 0.0, np.where(last == ratios.size - 1, ratios[-1], r))
    return np.where(np.isnan(values).any(axis=-1), np.nan, crossing)


def law_free_cmr(pilots: Pilots, epsilon: float, budget: float) -> float | None:
    """The ε crossing read off the measured general losses at the budget, smooth in R (no law in T
    at all). None when the pilots stop before the budget."""
    value = float(
        smooth_crossing(pilots.ratios, at_tokens(pilots, pilots.d_general, budget), epsilon)[0]
    )
    return None if np.isnan(value) else value


def general_law_weights(ratios):
    """Which ratios the general-loss L(R) law is fitted on: all but R = 1 when three others remain.

    At R = 1 there is no general data at all; its general loss follows another regime (on the real
    small-scale curves it rises throughout, 1.3 above the rest), and one power law through both
    regimes misplaces the ε crossing that lies between the other ratios."""
    interior = (np.asarray(ratios) < 1).astype(float)
    return interior if interior.sum() >= MIN_RATIOS else np.ones_like(interior)


def smooth_crossing(ratios, values, threshold, size=1001):
    """Largest R with value ≤ threshold per batch row (last axis = ratios), as ``piecewise_crossing``
    but on a quadratic in R fitted by least squares (R = 1 left out as in ``general_law_weights``)
    and made non-decreasing from the smallest ratio on. Linear interpolation of a ΔL_gen convex in R
    reads it high between the ratios, so the crossing low, by about the curvature × spacing² / 8: as
    much as the noise in the demo's layout. NaN rows stay NaN."""
    ratios = np.asarray(ratios, dtype=float)
    values = np.atleast_2d(np.asarray(values, dtype=float))
    root_weights = np.sqrt(general_law_weights(ratios))
    design = np.vander(ratios, 3) * root_weights[:, None]
    known = np.nan_to_num(values) * root_weights
    coefficients = np.linalg.lstsq(design, known.T, rcond=None)[0]  # (3, rows)
    grid = np.linspace(ratios[0], ratios[-1], size)
    fitted = np.maximum.accumulate(coefficients.T @ np.vander(grid, 3).T, axis=-1)
    crossing = piecewise_crossing(grid, fitted, threshold)
    return np.where(np.isnan(values).any(axis=-1), np.nan, crossing)
