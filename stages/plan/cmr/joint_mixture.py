"""The general-loss change of a multi-domain mixture, predicted from each domain's single-domain pilots.

Each domain's pilots give its curve g_d(R): the general-loss change at the budget, against the plan's
reference, when domain d takes share R of the CPT tokens and general data the rest. It is the ε
view's change per pilot ratio (``general_change`` of the domain's fit), and its interval ends, each
fitted by a power law β + α·R^s (s in RATIO_EXPONENTS: a change that grows with R, convex or not).

The model. A mixture of shares s_d displaces S = Σ s_d of general data. How much the general loss
moves depends on that displacement and on what took its place: each domain's part of the
displacement costs what that domain alone costs at the same displacement,

    ΔL_gen(s) = Σ_d (s_d / S) · g_d(S) = Σ_d (s_d / S) · g_d(0) + Σ_d s_d · h_d(S),

additive in the displaced share with per-domain harm rates h_d(S) = (g_d(S) − g_d(0)) / S, which
grow with S where the curves are convex. For one domain it is that domain's curve. For several it
assumes the domains do not interact: a domain's tokens cost the same whichever other domain took
the rest. The joint check pilot (``plan.pilots.joint``) measures what that misses.

The interval is the same model over each domain's interval ends: the domains' errors are taken as
fully correlated (they share the base model, the reference and the pilot recipe), the cautious
reading, so the joint interval is never narrower than its domains' at the same shares.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from stages.plan.laws.power import PowerLaw

RATIO_EXPONENTS = (0.25, 4.0)  # positive: g_d(0) = β is the change at R = 0, not a pole


@dataclass(frozen=True)
class DomainCurve:
    """One domain's single-domain pilots at the budget: ΔL_gen(R) with its interval ends, and L_dom(R)."""

    domain: str
    change: PowerLaw
    low: PowerLaw
    high: PowerLaw
    ratios: tuple[float, float]  # the pilots' smallest and largest ratio
    domain_loss: PowerLaw | None = None  # the domain loss at the budget, L_dom(R)
    baseline_domain: float | None = None  # the domain loss before CPT

    @classmethod
    def from_fit(cls, domain: str, fit: dict) -> DomainCurve | None:
        """From a domain's fit as written to fit.yaml (``CMRResult.to_dict()``); None when it has no
        general-loss change per ratio (a fit that could use no ratio)."""
        change = fit.get("general_change") or {}
        if len(change.get("ratios") or []) < 3:
            return None
        ratios = np.asarray(change["ratios"], dtype=float)
        laws = {
            key: PowerLaw.fit(ratios, np.asarray(change[key], dtype=float), bounds=RATIO_EXPONENTS)
            for key in ("change", "low", "high")
        }
        domain_law = fit.get("domain_ratio_law")
        baseline = fit.get("baseline_losses")
        return cls(
            domain,
            laws["change"],
            laws["low"],
            laws["high"],
            (float(ratios.min()), float(ratios.max())),
            None if domain_law is None else PowerLaw(**domain_law),
            None if baseline is None else float(baseline[1]),
        )

    def general(self, total: float) -> tuple[float, float, float]:
        """g_d(S) and its interval ends; the ends never cross the point curve."""
        point = float(self.change(total))
        return point, min(float(self.low(total)), point), max(float(self.high(total)), point)

    def rise(self, total: float) -> float:
        """g_d(S) − g_d(0): what displacing S of general data with this domain costs."""
        return float(self.change(total) - self.change.beta)

    def domain_drop(self, total: float) -> float | None:
        """How much this domain's loss falls at share S, against the model before CPT."""
        if self.domain_loss is None or self.baseline_domain is None:
            return None
        return self.baseline_domain - float(self.domain_loss(total))


@dataclass(frozen=True)
class JointPrediction:
    """The predicted general-loss change of one mixture, with its interval, against the reference."""

    change: float
    low: float
    high: float

    def shifted(self, offset: float) -> JointPrediction:
        return JointPrediction(self.change + offset, self.low + offset, self.high + offset)

    def to_dict(self) -> dict:
        return asdict(self)


def predict(curves: dict[str, DomainCurve], shares: dict[str, float]) -> JointPrediction:
    """ΔL_gen of the mixture ``shares`` (domain -> share; general data takes the rest), by the model
    above. With no domain data it is the curves' mean g_d(0): each curve's own reading of R = 0."""
    used = {d: s for d, s in shares.items() if d in curves and s > 0} or dict.fromkeys(curves, 1.0)
    total = sum(s for d, s in shares.items() if d in curves and s > 0)
    parts = np.array([curves[d].general(total) for d in used])
    weights = np.array(list(used.values())) / sum(used.values())
    change, low, high = weights @ parts
    return JointPrediction(float(change), float(low), float(high))


@dataclass(frozen=True)
class JointCheck:
    """A check pilot trained at the planned mixture: its measured general-loss change against the joint
    prediction at the same tokens. Outside the interval, the plan shifts every joint prediction by the
    miss (``offset``) and plans again: a local correction, measured at these shares and trusted near them."""

    shares: dict[str, float]
    tokens: float
    predicted: JointPrediction
    measured: float

    @property
    def inside(self) -> bool:
        return self.predicted.low <= self.measured <= self.predicted.high

    @property
    def offset(self) -> float:
        """The correction: what the prediction missed by, or 0 inside its interval."""
        return 0.0 if self.inside else self.measured - self.predicted.change

    def to_dict(self) -> dict:
        return {**asdict(self), "inside": self.inside, "offset": self.offset}
