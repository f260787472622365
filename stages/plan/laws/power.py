"""Loss laws for the mixture planner, fitted by batched variable projection (pure numpy).

Every law here is linear in its coefficients once its exponents are fixed, so each fit searches only
the exponents (a coarse grid, then a shrinking compass search) and solves the coefficients by
weighted least squares at every candidate. The search runs on a batch of curves at once (shape
``(B, n)``): a bootstrap is one call, warm-started from the point fit.

A law fitted on a batch holds arrays of shape ``(B,)`` in its fields; a law fitted on one curve holds
floats. Token counts are divided by ``t_scale`` (the largest pilot token count) inside the increment
laws so the normal equations stay well conditioned; ``α·(T/t_scale)^s`` is the paper's ``α'·T^s``
with ``α' = α·t_scale^-s``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


def _solve_coefficients(f, y, w, exps):
    """Coefficients and weighted SSE of y ≈ Σ_j α_j·exp(e_j·f) + β for candidate exponents.

    f, y, w: (B, ..., n); exps: (G, B, ..., k) with k ≤ 2. Returns coefs (G, B, ..., k+1), β last, and
    sse (G, B, ...).
    β is eliminated by centring, leaving a k×k system solved in closed form: elementwise numpy,
    which on these tiny systems is far faster than batched linear algebra."""
    with np.errstate(all="ignore"):
        share = w / w.sum(axis=-1, keepdims=True)
        cols = [np.exp(exps[..., None, j] * f) for j in range(exps.shape[-1])]
        means = [(share * c).sum(axis=-1, keepdims=True) for c in cols]
        centred = [c - m for c, m in zip(cols, means)]
        y_mean = (share * y).sum(axis=-1, keepdims=True)
        y_centred = y - y_mean

        def cov(a, b):
            return np.einsum("...n,...n->...", share * a, b)

        with_y = [cov(c, y_centred) for c in centred]
        if len(cols) == 1:
            alphas = [with_y[0] / cov(centred[0], centred[0])]
        else:
            s00, s01, s11 = (
                cov(centred[0], centred[0]),
                cov(centred[0], centred[1]),
                cov(centred[1], centred[1]),
            )
            det = s00 * s11 - s01**2
            alphas = [
                (s11 * with_y[0] - s01 * with_y[1]) / det,
                (s00 * with_y[1] - s01 * with_y[0]) / det,
            ]
        beta = y_mean[..., 0] - sum(a * m[..., 0] for a, m in zip(alphas, means))
        # At the least-squares optimum, SSE = Σw·(y - ȳ)² - Σ_j α_j·Σw·(c_j - c̄_j)(y - ȳ).
        explained = sum(a * b for a, b in zip(alphas, with_y))
        sse = w.sum(axis=-1) * (cov(y_centred, y_centred) - explained)
        coefs = np.stack([*alphas, beta], axis=-1)
    finite = np.isfinite(sse) & np.all(np.isfinite(coefs), axis=-1)
    return np.where(finite[..., None], coefs, 0.0), np.where(finite, sse, np.inf)


# Two terms closer than this in exponent fit noise as α·(t^a − t^b) ≈ α·δ·t^a·ln t with huge
# cancelling coefficients; the gap keeps them a distinct rise and fall.
EXPONENT_GAP = 0.2


def fit_separable(f, y, w, n_terms, bounds, start=None, tol=1e-8):
    """Least-squares fit of y ≈ Σ_j α_j·exp(e_j·f) + β over a batch of curves.

    With f = log x this is the power law Σ α_j·x^e_j + β; with f = x, the exponential law.
    f, y, w: (B, n) arrays (w = 0 drops a point), or (B, G, n) for G curves that share their exponents
    and keep their own coefficients (a joint fit across ratios). Exponents stay within ``bounds`` and, with
    two terms, ordered e_1 + EXPONENT_GAP <= e_2 so the fit has one optimum instead of two mirror images.
    ``start`` (B, n_terms) skips the coarse grid: a warm start from an earlier fit of similar data.
    Returns (exponents (B, k), coefficients (B, k+1) or (B, G, k+1) with β last, sse (B,))."""
    lower, upper = bounds
    shared = y.ndim == 3
    f, y, w = (a if shared else a[:, None] for a in np.broadcast_arrays(f, y, w))
    batch = y.shape[0]
    f = np.where(w > 0, f, 0.0)  # dropped points may hold NaN or inf; keep them out of the sums
    if start is None:
        best, step = _grid_start(f, y, w, n_terms, bounds)
    else:
        best = np.array(start, dtype=float).reshape(batch, n_terms)
        step = np.full(batch, 16 * tol)  # a warm start is close: a few halvings reach tol
    # The zero offset comes first so that ties keep the current point and the step shrinks.
    offsets = np.array(sorted(itertools.product((-1, 0, 1), repeat=n_terms), key=any))
    coefs = np.zeros((batch, y.shape[1], n_terms + 1))
    sse = np.full(batch, np.inf)
    active = np.arange(batch)
    # Only curves still searching are recomputed: the slowest curve of a batch sets the iteration count.
    while active.size:
        candidates = np.clip(
            best[active][None] + offsets[:, None, :] * step[active][None, :, None], lower, upper
        )
        cand_coefs, cand_sse = _solve_coefficients(
            f[active], y[active], w[active], candidates[:, :, None, :]
        )
        cand_sse = cand_sse.sum(axis=-1)
        if n_terms == 2:
            cand_sse[candidates[..., 0] + EXPONENT_GAP > candidates[..., 1] + 1e-12] = np.inf
        pick = np.argmin(cand_sse, axis=0)
        rows = np.arange(active.size)
        best[active], coefs[active], sse[active] = (
            candidates[pick, rows],
            cand_coefs[pick, rows],
            cand_sse[pick, rows],
        )
        # Grow the step while moving (to travel along a valley fast), halve it once boxed in.
        step[active] = np.where(pick == 0, step[active] / 2, step[active] * 1.5)
        active = active[step[active] >= tol]
    return best, (coefs if shared else coefs[:, 0]), sse


def _grid_start(f, y, w, n_terms, bounds):
    """The best exponents of a coarse grid over ``bounds`` per curve, and the grid spacing as the first step."""
    batch = y.shape[0]
    grid = np.linspace(*bounds, 41 if n_terms == 1 else 17)
    candidates = np.array(
        [
            c
            for c in itertools.product(grid, repeat=n_terms)
            if n_terms == 1 or c[0] + EXPONENT_GAP <= c[1]
        ]
    )
    exps = np.broadcast_to(candidates[:, None, :], (len(candidates), batch, n_terms))
    _, sse = _solve_coefficients(f, y, w, exps[:, :, None, :])
    sse = sse.sum(axis=-1)
    return exps[np.argmin(sse, axis=0), np.arange(batch)].copy(), np.full(batch, grid[1] - grid[0])


def _goodness(y, w, sse):
    """MSE and R² from a weighted SSE, per curve of the batch."""
    count = w.sum(axis=-1)
    mean = (w * y).sum(axis=-1) / count
    total = (w * (y - mean[..., None]) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - sse / total, 1.0)
    return sse / count, r2


def _as_batch(x, y, w):
    y = np.atleast_2d(np.asarray(y, dtype=float))
    x = np.broadcast_to(np.asarray(x, dtype=float), y.shape)
    w = np.ones_like(y) if w is None else np.broadcast_to(np.asarray(w, dtype=float), y.shape)
    return x, y, w


def log_tokens(x):
    """log x, with x = 0 (the start of a curve) mapped to -inf so that exp(e·log x) = 0 for e > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def _unbatch(value, single):
    return float(value[0]) if single else value


@dataclass
class PowerLaw:
    """L(x) = α·x^s + β, with no sign forced on s (the paper's L(R) and CMR laws)."""

    alpha: float | np.ndarray
    s: float | np.ndarray
    beta: float | np.ndarray
    mse: float | np.ndarray
    r2: float | np.ndarray
    bounds: tuple[float, float] = (-4.0, 4.0)

    @classmethod
    def fit(cls, x, y, weights=None, bounds=(-4.0, 4.0), start=None, tol=1e-8) -> PowerLaw:
        """Fit one curve (1-D x, y) or a batch (2-D, one curve per row; x may be shared)."""
        single = np.ndim(y) == 1
        x, y, w = _as_batch(x, y, weights)
        start = (
            None
            if start is None
            else np.broadcast_to(np.asarray(start, dtype=float), (len(y),))[:, None]
        )
        exps, coefs, sse = fit_separable(log_tokens(x), y, w, 1, bounds, start, tol)
        mse, r2 = _goodness(y, w, sse)
        alpha, s, beta, mse, r2 = (
            _unbatch(v, single) for v in (coefs[:, 0], exps[:, 0], coefs[:, 1], mse, r2)
        )
        return cls(alpha, s, beta, mse, r2, bounds=bounds)

    def __call__(self, x):
        return self.alpha * np.asarray(x, dtype=float) ** self.s + self.beta

    def exponent_at_bound(self) -> bool:
        margin = 1e-3 * (self.bounds[1] - self.bounds[0])
        return bool(np.any(np.minimum(self.s - self.bounds[0], self.bounds[1] - self.s) < margin))

    def to_dict(self) -> dict:
        return {
            "alpha": float(self.alpha),
            "s": float(self.s),
            "beta": float(self.beta),
            "mse": float(self.mse),
            "r2": float(self.r2),
        }


@dataclass
class ExpMixLaw:
    """L(R) = c + k·exp(t·R): the data-mixing law of Ye et al. (arXiv 2403.16952) for one proportion."""

    c: float
    k: float
    t: float
    mse: float
    r2: float

    @classmethod
    def fit(cls, ratios, losses, bounds=(-30.0, 30.0)) -> ExpMixLaw:
        x, y, w = _as_batch(ratios, losses, None)
        exps, coefs, sse = fit_separable(x, y, w, 1, bounds)
        mse, r2 = _goodness(y, w, sse)
        return cls(
            float(coefs[0, 1]), float(coefs[0, 0]), float(exps[0, 0]), float(mse[0]), float(r2[0])
        )

    def __call__(self, ratio):
        return self.c + self.k * np.exp(self.t * np.asarray(ratio, dtype=float))


INCREMENT_EXPONENTS = (0.01, 3.0)


@dataclass
class IncrementLaws:
    """The paper's Eq. 6 for one ratio: loss changes after T CPT tokens.

    ΔL_dom(T) = α1·t^s1 + β1 and ΔL_gen(T) = α2·t^s2 + α3·t^s3 + β2 with t = T / t_scale."""

    t_scale: float
    alpha1: float | np.ndarray
    s1: float | np.ndarray
    beta1: float | np.ndarray
    alpha2: float | np.ndarray
    s2: float | np.ndarray
    alpha3: float | np.ndarray
    s3: float | np.ndarray
    beta2: float | np.ndarray
    mse_domain: float | np.ndarray
    r2_domain: float | np.ndarray
    mse_general: float | np.ndarray
    r2_general: float | np.ndarray

    @classmethod
    def fit(
        cls,
        tokens,
        d_general,
        d_domain,
        weights=None,
        t_scale=None,
        start: IncrementLaws | None = None,
        tol=1e-6,
    ) -> IncrementLaws:
        """Fit both laws on one curve or a batch (B, n): tokens, loss changes, weights (0 drops a point)."""
        tokens = np.asarray(tokens, dtype=float)
        single = np.ndim(d_general) == 1
        t_scale = float(t_scale or np.nanmax(tokens))
        t, gen, w = _as_batch(tokens / t_scale, d_general, weights)
        _, dom, _ = _as_batch(t, d_domain, w)
        dom_start = gen_start = None
        if start is not None:
            dom_start = np.broadcast_to(np.asarray(start.s1, dtype=float), (len(dom),))[:, None]
            gen_start = np.broadcast_to(np.stack([start.s2, start.s3], axis=-1), (len(gen), 2))
        s_dom, c_dom, sse_dom = fit_separable(
            log_tokens(t), dom, w, 1, INCREMENT_EXPONENTS, dom_start, tol
        )
        s_gen, c_gen, sse_gen = fit_separable(
            log_tokens(t), gen, w, 2, INCREMENT_EXPONENTS, gen_start, tol
        )
        mse_dom, r2_dom = _goodness(dom, w, sse_dom)
        mse_gen, r2_gen = _goodness(gen, w, sse_gen)
        values = (
            c_dom[:, 0],
            s_dom[:, 0],
            c_dom[:, 1],
            c_gen[:, 0],
            s_gen[:, 0],
            c_gen[:, 1],
            s_gen[:, 1],
            c_gen[:, 2],
            mse_dom,
            r2_dom,
            mse_gen,
            r2_gen,
        )
        return cls(t_scale, *(_unbatch(v, single) for v in values))

    def d_domain(self, tokens):
        t = np.asarray(tokens, dtype=float) / self.t_scale
        return self.alpha1 * t**self.s1 + self.beta1

    def d_general(self, tokens):
        t = np.asarray(tokens, dtype=float) / self.t_scale
        return self.alpha2 * t**self.s2 + self.alpha3 * t**self.s3 + self.beta2

    def slopes(self, t):
        """(∂ΔL_dom/∂t, ∂ΔL_gen/∂t) at scaled tokens t; parameters broadcast against t."""
        return (
            self.alpha1 * self.s1 * t ** (self.s1 - 1),
            self.alpha2 * self.s2 * t ** (self.s2 - 1) + self.alpha3 * self.s3 * t ** (self.s3 - 1),
        )

    def map(self, transform) -> IncrementLaws:
        """The same laws with ``transform`` applied to every parameter (e.g. to reshape a batch)."""
        return IncrementLaws(
            **{
                k: (v if k == "t_scale" else transform(np.asarray(v)))
                for k, v in vars(self).items()
            }
        )

    def take(self, index) -> IncrementLaws:
        """One member of a batch-fitted law."""
        return self.map(lambda v: float(v[index]))

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in vars(self).items()}
