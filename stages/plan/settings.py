"""The settings of one CMR fit, set alike by ``critmix plan`` (from ``plan.*``) and ``critmix law`` (from
its flags), and passed by name down to every view, interval and backtest."""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.errors import ConfigError
from stages.plan.data.curves import REFERENCES

# How a mixture spends ε (stages/plan/cmr/mixture.py): at the interval's upper end, or at the point prediction.
RISKS = ("interval", "point")


@dataclass(frozen=True)
class FitSettings:
    lam: float = 1000.0  # the Lagrange weight of the general-loss change (inf: the peak of ΔL_gen)
    epsilon: float = 0.05  # tolerated rise of the general loss, in loss units
    budget: float | None = None  # CPT tokens the CMR is read at; None: the pilot length
    level: float = 0.95  # of every interval
    draws: int = 100  # bootstrap refits
    seed: int = 0  # of the bootstrap
    reference: str | None = None  # base | control | None (control when the curves hold R = 0 rows)
    target_params: float | None = (
        None  # model size the CMR is planned for; None: the largest pilot size
    )
    risk: str = "interval"  # one of RISKS: what of the predicted change a mixture holds to ε

    def __post_init__(self):
        if not 0 < self.level < 1:
            raise ConfigError(
                f"level {self.level}: an interval's level lies strictly between 0 and 1, e.g. 0.95"
            )
        if self.draws < 2:
            raise ConfigError(
                f"bootstrap draws {self.draws}: an interval needs at least 2 (default 100)"
            )
        if self.epsilon < 0:
            raise ConfigError(
                f"epsilon {self.epsilon}: the tolerated general-loss rise cannot be negative, e.g. 0.05"
            )
        if self.target_params is not None and not self.target_params > 0:
            raise ConfigError(
                f"target params {self.target_params}: a model size is a positive parameter count "
                "(plan.target.params, --target-params)"
            )
        if self.risk not in RISKS:
            raise ConfigError(f"risk {self.risk!r}: use one of {', '.join(RISKS)}")
        if self.reference not in (None, *REFERENCES):
            raise ConfigError(f"reference {self.reference!r}: use one of {', '.join(REFERENCES)}")

    def at(self, **changes) -> FitSettings:
        """The same settings with ``changes``, e.g. ``settings.at(budget=tokens)``."""
        return replace(self, **changes)

    def resolved_budget(self) -> float:
        """The budget of settings that went through ``with_budget``; a bug to ask before."""
        if self.budget is None:
            raise ValueError(
                "FitSettings.budget is unresolved: call with_budget(pilot_tokens) first"
            )
        return self.budget

    def with_budget(self, pilot_tokens: float) -> FitSettings:
        """The budget resolved: the pilot length when none is set."""
        return self.at(budget=float(self.budget or pilot_tokens))
