"""The CMR at the target model size from pilot curves at several sizes (a ``params`` column).

Each pilot size is fitted apart, as the paper does; the size law (stages/plan/laws/sizes.py) carries
each domain's per-size CMRs and intervals to ``settings.target_params``. The plan's result for a
domain is the largest pilot size's, with its CMR and interval replaced by the target's; the size
law's own figures (each size's CMR beside the target's) come back beside it.

One pilot size cannot be extrapolated from: a target other than that size is a one-line error, not a
silent answer for the pilot size. Without a target, the plan answers for the largest pilot size and
says so.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.errors import CritmixError
from stages.plan.cmr.fit import CMRResult, fit_cmr
from stages.plan.data.curves import SIZE_COLUMN
from stages.plan.laws.sizes import SizeCMR, predict_cmr_at_size
from stages.plan.settings import FitSettings


def pilot_sizes(curves) -> list[float]:
    """The distinct pilot sizes, ascending; empty when the curves carry no ``params`` column."""
    return sorted(float(n) for n in np.unique(curves[SIZE_COLUMN])) if SIZE_COLUMN in curves else []


def at_size(curves, params: float) -> dict:
    """The curves of one pilot size."""
    keep = curves[SIZE_COLUMN] == params
    return {k: v[keep] for k, v in curves.items()}


def largest_size(curves) -> dict:
    """The curves of the largest pilot size (all of them when the curves are one size)."""
    sizes = pilot_sizes(curves)
    return at_size(curves, sizes[-1]) if sizes else curves


def fit_across_sizes(curves, settings: FitSettings) -> tuple[dict[str, CMRResult], dict[str, dict]]:
    """Per domain, the CMR at ``settings.target_params`` and the size law behind it (empty without
    a target: then the result is the largest pilot size's own fit)."""
    sizes, target = pilot_sizes(curves), settings.target_params
    if target is None or sizes == [target]:
        fits = fit_cmr(largest_size(curves), settings)
        if len(sizes) > 1:
            note = (
                f"the curves hold {len(sizes)} pilot sizes; this CMR is the largest's "
                f"({sizes[-1]:.4g} parameters): set the target size (plan.target.params) to plan "
                "for the model you train"
            )
            fits = {d: replace(f, warnings=[*f.warnings, note]) for d, f in fits.items()}
        return fits, {}
    if len(sizes) < 2:
        ran = f"({sizes[0]:.4g} parameters)" if sizes else "(no params column)"
        raise CritmixError(
            f"the pilots ran at one model size {ran}, so the CMR cannot be extrapolated to "
            f"{target:.4g} parameters; run pilots at two or more sizes or drop the target size"
        )
    per_size = {n: fit_cmr(at_size(curves, n), settings) for n in sizes}
    fits, laws = {}, {}
    for domain, own in per_size[sizes[-1]].items():
        fitted = [
            SizeCMR(n, cmr, per_size[n][domain].ci)
            for n in sizes
            if domain in per_size[n] and (cmr := per_size[n][domain].cmr) is not None
        ]
        if len(fitted) < 2:
            raise CritmixError(
                f"{domain}: the CMR fits at fewer than two pilot sizes, so the size law has nothing "
                "to extrapolate from; see each size's fit warnings (critmix law fit)"
            )
        prediction = predict_cmr_at_size(fitted, target, level=settings.level, seed=settings.seed)
        note = (
            f"CMR planned for {target:.4g} parameters by the size law from pilots at "
            + ", ".join(f"{s.params:.4g} (CMR {s.cmr:.3f})" for s in fitted)
            + "; the other figures are the largest pilot size's"
        )
        fits[domain] = replace(
            own,
            cmr=prediction.cmr,
            ci=prediction.ci,
            ci_errors=dict(prediction.errors),
            ci_parts={"size_bootstrap": prediction.bootstrap_ci},
            warnings=[*own.warnings, note, *prediction.notes],
        )
        laws[domain] = prediction.to_dict()
    return fits, laws
