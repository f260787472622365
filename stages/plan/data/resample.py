"""Bootstrap draws of pilot curves that keep what makes real pilots disagree.

Each draw rebuilds every curve as its centre (the mean of its ratio's seeds, or its fitted law) plus
residuals taken from a real curve:
- seeds: the residuals come from a curve drawn with replacement among all the domain's curves (every
  ratio's seeds: the noise of a training run hardly depends on the mixture, and two seeds of one
  ratio that happen to agree would otherwise promise a precision nobody measured), so the run-to-run
  spread (a curve's mean offset from its centre) enters the draw, scaled up by sqrt(S / (S - 1))
  because the mean of S seeds sits closer to each of them than the truth does;
- correlation along a curve: what is left after the offset is resampled in circular blocks of about
  sqrt(n) consecutive evaluations, so runs of same-signed residuals (a curve that sits high for a
  while) survive, where drawing points one by one would average them away.
With one seed per ratio the residuals are those of a fitted law: they carry no run-to-run spread and
do carry the law's misfit; the README says so.
"""
from __future__ import annotations

import numpy as np

from stages.plan.data.curves import Pilots

LAW_PARAMETERS = 5  # of the general law: residuals of a fit with p parameters are smaller than the noise


def resample(pilots: Pilots, centre: tuple[np.ndarray, np.ndarray], n_boot: int, rng,
             from_seeds: bool, sources=None) -> tuple[np.ndarray, np.ndarray]:
    """Draws of (d_general, d_domain), each (ratios, n_boot, seeds, points), around ``centre`` (the
    pilots' shape). ``from_seeds``: the centre is the seeds' mean, not a fitted law. ``sources``: per
    ratio, whether its curves lend residuals (default all)."""
    valid = pilots.weights > 0
    ratios, seeds, width = pilots.tokens.shape
    lend = np.ones(ratios, bool) if sources is None else np.asarray(sources, bool)
    curves = (valid[:, :, 1:].any(axis=-1) & lend[:, None]).ravel()
    sources = np.flatnonzero(curves)
    source = sources[(rng.random((ratios, n_boot, seeds)) * sources.size).astype(int)]
    points = (valid.sum(axis=-1) - 1).ravel()  # CPT points per curve, the origin left out
    span = np.maximum(points[source], 1)
    block = max(2, int(np.ceil(np.sqrt(points.max()))))
    position = np.arange(width - 1)
    starts = (rng.random((ratios, n_boot, seeds, (width - 2) // block + 1)) * span[..., None]).astype(int)
    index = 1 + (starts[..., position // block] + position % block) % span[..., None]
    index = np.concatenate([np.zeros(index.shape[:-1] + (1,), int), index], axis=-1)
    per_ratio = valid[:, :, 1:].any(axis=-1).sum(axis=1)
    if from_seeds:
        spread = np.sqrt(per_ratio / np.maximum(per_ratio - 1, 1))[:, None, None]
    else:
        total = valid[:, :, 1:].sum(axis=(1, 2))
        spread = np.sqrt(total / np.maximum(total - LAW_PARAMETERS, 1))[:, None, None]
    draws = []
    for observed, fit in zip((pilots.d_general, pilots.d_domain), centre):
        residual = np.where(valid, observed - fit, 0.0).reshape(ratios * seeds, width)
        offset = residual[:, 1:].sum(axis=-1) / np.maximum(points, 1)
        within = np.where(valid.reshape(ratios * seeds, width), residual - offset[:, None], 0.0)
        noise = (np.take_along_axis(within[source], index, axis=-1) + offset[source][..., None]) * spread[..., None]
        noise[..., 0] = 0.0  # the origin is the model before CPT, measured exactly
        draws.append(fit[:, None] + noise)
    return draws[0], draws[1]
