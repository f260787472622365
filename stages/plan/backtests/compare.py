"""The CMR paper's ratio law against Ye et al.'s data-mixing law, held out one ratio at a time."""

from __future__ import annotations

import numpy as np

from core.errors import CritmixError
from stages.plan.laws.power import ExpMixLaw, PowerLaw


def compare_mixing_laws(curves, domain, epsilon=0.05) -> list[dict]:
    """Leave-one-ratio-out errors of the CMR paper's L(R) = α·R^s + β against Ye et al.'s
    L(R) = c + k·exp(t·R), on each ratio's last evaluated loss (general and domain), in loss units and
    relative. Fitted on what the planner fits: 0 < R < 1 (R = 1 has no general data at all, another regime)."""
    rows = curves["domain"] == domain
    ratios = np.unique(curves["ratio"][rows & (curves["ratio"] > 0) & (curves["ratio"] < 1)])
    if len(ratios) < 4:
        raise CritmixError(
            f"domain {domain!r}: {len(ratios)} ratios in (0, 1); holding one out needs ≥ 4 "
            f"(both laws have 3 parameters)"
        )
    last = {r: _final_losses(curves, rows & (curves["ratio"] == r)) for r in ratios}
    out = []
    for held in ratios:
        train = ratios[ratios != held]
        for column, name in enumerate(("general", "domain")):
            y = np.array([last[r][column] for r in train])
            actual = last[held][column]
            power, expo = PowerLaw.fit(train, y)(held), ExpMixLaw.fit(train, y)(held)
            out.append(
                {
                    "domain": domain,
                    "loss": name,
                    "held_out_ratio": float(held),
                    "actual": float(actual),
                    "epsilon": epsilon,
                    "power_law": float(power),
                    "power_law_error": float(power - actual),
                    "power_law_rel_error": float(abs(power - actual) / actual),
                    "exp_law": float(expo),
                    "exp_law_error": float(expo - actual),
                    "exp_law_rel_error": float(abs(expo - actual) / actual),
                }
            )
    return out


def _final_losses(curves, pick):
    """(general, domain) loss at the last evaluation, averaged over seeds."""
    tokens = curves["tokens"][pick]
    end = tokens == tokens.max()
    return float(curves["general_loss"][pick][end].mean()), float(
        curves["domain_loss"][pick][end].mean()
    )
