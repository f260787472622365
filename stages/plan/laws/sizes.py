"""The size law: how the CMR moves with model size, fitted on per-size CMRs, extrapolated to a
target size.

``link(CMR) = a + b·ln N`` with N the parameter count. Two links are registered in FORMS: the
identity (``log_linear``, the default) and the logit (``logit_linear``, which saturates inside
[0, 1]). Both have two coefficients, so two sizes fit them and a third one backtests them. The
default was chosen on one family of synthetic size series (saturating power laws ``c − k·N^−s``) and
judged on another (a tanh in ln N); tests/stages/plan/test_sizes.py holds both (docs/design.md,
"The size law").

The interval at the target starts from a bootstrap: each size's CMR is drawn within its own interval
(normal, the interval read as that many standard errors), the law refitted and the target predicted.
A systematic error is added in quadrature, as the CMR interval does with its terms
(stages/plan/cmr/interval.py): the leave-the-largest-size-out backtest error, scaled by how far
past the largest size the target lies (in ln N) over how far the backtest reached. Two sizes cannot
backtest, so nothing bounds the form's error and a target past them gets [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from core.errors import CritmixError


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


# form name -> (link, inverse link)
FORMS = {"log_linear": (lambda p: p, lambda x: x), "logit_linear": (_logit, _expit)}
DEFAULT_FORM = "log_linear"


@dataclass(frozen=True)
class SizeCMR:
    """One pilot size: its parameter count, its CMR and (when known) the CMR's interval."""

    params: float
    cmr: float
    ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class SizeLaw:
    """``link(CMR) = a + b·ln N`` in the named form."""

    form: str
    a: float
    b: float

    def predict(self, params):
        return FORMS[self.form][1](self.a + self.b * np.log(params))

    def to_dict(self) -> dict:
        equation = f"{self.form}: link(CMR) = a + b·ln N"
        return {"form": self.form, "a": self.a, "b": self.b, "equation": equation}


@dataclass
class SizePrediction:
    """The CMR at the target size, its interval and what went into it."""

    target_params: float
    cmr: float
    ci: tuple[float, float]
    law: SizeLaw
    sizes: list[SizeCMR]
    bootstrap_ci: tuple[float, float]
    errors: dict  # systematic errors added to the bootstrap in quadrature
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "target_params": self.target_params,
            "cmr": self.cmr,
            "ci": list(self.ci),
            "law": self.law.to_dict(),
            "sizes": [
                {"params": s.params, "cmr": s.cmr, "ci": None if s.ci is None else list(s.ci)}
                for s in self.sizes
            ],
            "bootstrap_ci": list(self.bootstrap_ci),
            "errors": self.errors,
            "notes": self.notes,
        }


def check_sizes(sizes: list[SizeCMR], target_params: float) -> None:
    """One-line errors for what no size law can be fitted on."""
    if len({s.params for s in sizes}) < 2:
        raise CritmixError(
            "the size law needs CMRs at two or more distinct model sizes; add a pilot size"
        )
    if target_params <= 0 or any(s.params <= 0 for s in sizes):
        raise CritmixError("model sizes must be positive parameter counts (for example 460e6)")
    if any(not 0.0 <= s.cmr <= 1.0 for s in sizes):
        raise CritmixError("every CMR must lie in [0, 1] (a share, e.g. 0.298 for 29.8%)")


def fit_size_law(params, cmrs, form: str = DEFAULT_FORM) -> SizeLaw:
    """Least-squares fit of ``link(CMR) = a + b·ln N`` through the given sizes."""
    x, y = np.log(np.asarray(params, dtype=float)), FORMS[form][0](np.asarray(cmrs, dtype=float))
    b, a = np.polyfit(x, y, 1)
    return SizeLaw(form, float(a), float(b))


def _fit_batch(x, y):
    """Slopes and intercepts of y (B, n) against x (n,) in one pass: the bootstrap's refits."""
    xc = x - x.mean()
    b = (y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    return y.mean(axis=1) - b * x.mean(), b


def backtest_error(sizes: list[SizeCMR], target_params: float, form: str) -> tuple[dict, list[str]]:
    """The leave-the-largest-out error, scaled from the backtest's reach to the target's."""
    ordered = sorted(sizes, key=lambda s: s.params)
    largest, second = ordered[-1], ordered[-2]
    reach = np.log(target_params / largest.params)
    if reach <= 0:
        return {}, []
    if len(ordered) < 3:
        return {"size_extrapolation": 1.0}, [
            "two sizes cannot backtest the size law, so nothing bounds its error past them: the "
            "interval is [0, 1]; a third pilot size bounds it"
        ]
    held_out = fit_size_law([s.params for s in ordered[:-1]], [s.cmr for s in ordered[:-1]], form)
    error = abs(float(held_out.predict(largest.params)) - largest.cmr)
    # A straight line through a curved law misses by about curvature·(x − x_first)·(x − x_last) in
    # x = ln N (the chord's error); the backtest measured that product at the largest size.
    x = np.log([ordered[0].params, second.params, largest.params, target_params])
    factor = (x[3] - x[0]) * (x[3] - x[2]) / ((x[2] - x[0]) * (x[2] - x[1]))
    return {"size_backtest": error, "size_extrapolation": error * float(factor)}, []


def predict_cmr_at_size(
    sizes: list[SizeCMR],
    target_params: float,
    *,
    form: str = DEFAULT_FORM,
    level: float = 0.95,
    draws: int = 1000,
    seed: int = 0,
) -> SizePrediction:
    """Fit the size law on ``sizes`` and predict the CMR at ``target_params`` with its interval."""
    check_sizes(sizes, target_params)
    link, inverse = FORMS[form]
    params = np.array([s.params for s in sizes], dtype=float)
    cmrs = np.array([s.cmr for s in sizes], dtype=float)
    law = fit_size_law(params, cmrs, form)
    centre = float(np.clip(law.predict(target_params), 0.0, 1.0))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    spread = np.array([0.0 if s.ci is None else (s.ci[1] - s.ci[0]) / (2 * z) for s in sizes])
    rng = np.random.default_rng(seed)
    drawn = np.clip(cmrs + spread * rng.standard_normal((draws, len(sizes))), 0.0, 1.0)
    a, b = _fit_batch(np.log(params), link(drawn))
    predicted = np.clip(inverse(a + b * np.log(target_params)), 0.0, 1.0)
    tail = 50 * (1 - level)
    low, high = (float(np.percentile(predicted, q)) for q in (tail, 100 - tail))
    errors, notes = backtest_error(sizes, target_params, form)
    systematic = errors.get("size_extrapolation", 0.0)
    ci = (
        max(centre - float(np.hypot(max(centre - low, 0.0), systematic)), 0.0),
        min(centre + float(np.hypot(max(high - centre, 0.0), systematic)), 1.0),
    )
    if not spread.any():
        notes.append(
            "no size carries an interval, so the bootstrap is flat: the interval is the "
            "backtest's alone"
        )
    return SizePrediction(
        float(target_params), centre, ci, law, list(sizes), (low, high), errors, notes
    )
