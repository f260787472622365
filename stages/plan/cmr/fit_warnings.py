"""What a CMR fit warns of: no feasible ratio or all of them, a law at the edge of what it can say (an
exponent at its bound, a poor fit, a clipped CMR), a budget far past the pilots, a turnaround before the
first evaluation. Each warning says what to do about it."""

from __future__ import annotations

import numpy as np

from stages.plan.cmr.views import LawFit, Views, scalar
from stages.plan.data.curves import Pilots
from stages.plan.laws.joint import DECAY_EXPONENTS
from stages.plan.laws.power import INCREMENT_EXPONENTS
from stages.plan.laws.turnaround import LOW_R2

EXTRAPOLATION_WARN = 2.0


def fit_warnings(point: Views, fit: LawFit, pilots: Pilots, cmr, budget):
    pilot_tokens, ratio_list, laws = pilots.pilot_tokens, pilots.ratios, fit.laws
    notes = []
    if cmr == 0:
        notes.append(
            f"no ratio is feasible at budget {budget:.3g} tokens: the general loss has not come back "
            f"within tolerance; try a larger budget (or a larger ε)"
        )
    if cmr == 1:
        notes.append(
            "every ratio is feasible (CMR = 1): the general loss stays within tolerance even on "
            "domain data alone; check ε and the budget"
        )
    if point.turnaround_clipped[0] and point.cmr_law is not None:
        notes.append(
            f"the CMR law gives {float(point.cmr_law(budget / pilot_tokens)[0]):.3f} at the budget, "
            f"outside [0, 1]; clipped"
        )
    general_law = scalar(point.general_law)
    if general_law.exponent_at_bound():
        notes.append(
            f"the general-loss L(R) law's exponent s = {general_law.s:.2f} sits at its bound "
            f"(s in [{general_law.bounds[0]:g}, {general_law.bounds[1]:g}]; R² {general_law.r2:.2f} "
            f"is then no sign of a good law); the per-ratio ε view interpolates it, so check it "
            f"against the per-ratio table"
        )
    elif general_law.r2 < LOW_R2:
        notes.append(
            f"the general-loss L(R) law fits poorly (R² {general_law.r2:.2f}); the per-ratio ε view "
            f"interpolates it, so check it against the per-ratio table"
        )
    if budget > EXTRAPOLATION_WARN * pilot_tokens:
        notes.append(
            f"budget is {budget / pilot_tokens:.1f}× the pilot budget ({pilot_tokens:.3g} tokens): "
            f"the laws are extrapolated that far; run longer pilots to trust it"
        )
    if 0 < cmr < min(ratio_list):
        notes.append(
            f"CMR {cmr:.3f} is below the smallest pilot ratio {min(ratio_list):g}: extrapolated in R"
        )
    first_eval = np.where(pilots.weights[:, :, 1:] > 0, pilots.tokens[:, :, 1:], np.inf).min(
        axis=(1, 2)
    )
    early = [
        f"{r:g}"
        for r, t0, first in zip(ratio_list, point.t0[0], first_eval)
        if t0 * pilot_tokens < first
    ]
    if early:
        notes.append(
            f"T0 lies before the first evaluation at ratio(s) {', '.join(early)}: evaluate earlier to see it"
        )
    margin = 1e-3 * (INCREMENT_EXPONENTS[1] - INCREMENT_EXPONENTS[0])
    at_bound = [
        f"{r:g}"
        for r, *exps in zip(ratio_list, *(np.asarray(s)[:, 0] for s in (laws.s1, laws.s2, laws.s3)))
        if any(min(e - INCREMENT_EXPONENTS[0], INCREMENT_EXPONENTS[1] - e) < margin for e in exps)
    ]
    if at_bound:
        notes.append(
            f"an increment-law exponent sits at its bound {INCREMENT_EXPONENTS} at ratio(s) "
            f"{', '.join(at_bound)}: that law's shape is forced, not measured"
        )
    decay = float(fit.joint.exponent[0])
    if min(abs(decay - bound) for bound in DECAY_EXPONENTS) < margin:
        notes.append(
            f"the joint law's decay exponent sits at its bound ({-decay:g}, bounds "
            f"{-DECAY_EXPONENTS[1]:g}-{-DECAY_EXPONENTS[0]:g}): its tail shape is forced, not "
            f"measured, and the bootstrap has no spread in it; run longer pilots"
        )
    return notes
