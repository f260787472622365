"""One law of the general-loss change over (R, T), fitted jointly across ratios on the curves' tails.

ΔL_gen(R, t) = c(R) + b(R)·t^(−β), t = T / t_scale, β > 0 shared by every ratio, fitted on the
evaluations past TAIL_SHARE of the pilot length. It is the data-size term of the D-CPT law
(arXiv 2406.01375, L = E + B·r^η / D^β + ...) with its ratio terms left free per ratio (linear between
pilot ratios, so the surface is defined at any R between them): the loss approaches an asymptote c(R)
at a rate shared across ratios. What a budget past the pilots needs is how the tail moves, and a
saturating tail extrapolates conservatively where the paper's two-term increment law, whose falling
term may grow like t^3, predicts a recovery that keeps accelerating. The backtest chose it
(README, "How sure is the CMR?"); the paper's per-ratio laws stay beside it as a view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stages.plan.laws.power import fit_separable, log_tokens

TAIL_SHARE = 0.25  # the rise of the general loss is over by then on every curve seen so far
DECAY_EXPONENTS = (-3.0, -0.01)


@dataclass
class TailLaw:
    """Fields hold arrays: exponent −β (B,), coefficients (B, ratios)."""

    t_scale: float
    exponent: np.ndarray
    b: np.ndarray
    c: np.ndarray

    @classmethod
    def fit(
        cls, tokens, d_general, weights, t_scale, start: TailLaw | None = None, tol=1e-6
    ) -> TailLaw:
        """tokens, weights: (ratios, n); d_general: (B, ratios, n), B batches of all ratios' curves."""
        d_general = np.asarray(d_general, dtype=float)
        scaled = np.asarray(tokens, dtype=float) / t_scale
        tail = np.where(scaled >= cls.tail_start(scaled, weights), weights, 0.0)
        f = np.broadcast_to(log_tokens(scaled), d_general.shape)
        begin = (
            None if start is None else np.broadcast_to(start.exponent[:, None], (len(d_general), 1))
        )
        exps, coefs, _ = fit_separable(
            f, d_general, np.broadcast_to(tail, d_general.shape), 1, DECAY_EXPONENTS, begin, tol
        )
        return cls(t_scale, exps[:, 0], coefs[..., 0], coefs[..., 1])

    @staticmethod
    def tail_start(scaled, weights) -> float:
        """Where the fitted tail begins, in the units of ``scaled``: TAIL_SHARE of the longest curve."""
        return TAIL_SHARE * float(np.asarray(scaled)[np.asarray(weights) > 0].max())

    def d_general(self, tokens):
        """ΔL_gen at ``tokens`` for every batch member and pilot ratio: shape (B, ratios)."""
        t = float(tokens) / self.t_scale
        return self.b * t ** self.exponent[:, None] + self.c
