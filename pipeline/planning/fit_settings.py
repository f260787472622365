"""The CMR fit's settings from ``plan.*``: read by the plan's fit and by the adaptive pilots' rounds."""

from __future__ import annotations

from pipeline.config import CritmixConfig


def fit_settings(config: CritmixConfig):
    """The fit's settings from ``plan.*``, as ``critmix law`` sets them from its flags."""
    from stages.plan.settings import FitSettings

    plan = config.plan
    return FitSettings(
        lam=plan.lam,
        epsilon=plan.epsilon,
        budget=plan.budget or plan.pilots.tokens,
        level=plan.level,
        draws=plan.bootstrap,
        seed=plan.bootstrap_seed,
        reference=plan.epsilon_reference,
        target_params=plan.target.params,
    )
