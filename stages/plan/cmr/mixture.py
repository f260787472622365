"""One mixture of several domains, by a named rule of MIXTURE_RULES (``plan.mixture``).

``predicted`` (the default) plans on the joint prediction of ``stages.plan.cmr.joint_mixture``: the domains
together take the largest total share whose predicted general-loss change at the budget stays within
ε, read by the plan's risk (``plan.risk``: ``interval``, the interval's upper end at ε; ``point``, the
point prediction at ε), and split it by what each buys: its domain-loss drop per unit of general-loss
rise (PREDICTED_RULE). ``smallest_cmr`` is the rule before it (SMALLEST_CMR_RULE). Either way the
plan records the joint prediction of the shares it chose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from stages.plan.cmr.joint_mixture import DomainCurve, JointPrediction, predict

SMALLEST_CMR_RULE = (
    "the domains together take the smallest feasible domain CMR, split in proportion to "
    "weights (default: each domain's CMR); general data takes the rest. So every domain's share "
    "is at most its own CMR, the general share is at least what every domain's CMR leaves, and "
    "the shares sum to 1. Domains with no feasible ratio get 0 and do not constrain the others."
)
PREDICTED_RULE = (
    "the domains together take the largest total share whose predicted general-loss change at the "
    "budget (the joint model over every domain's single-domain pilots) stays within epsilon, at the "
    "interval's upper end (risk: interval) or at the point prediction (risk: point); the total is split "
    "in proportion to what each domain buys at that displacement, its domain-loss drop per unit of "
    "general-loss rise, to a fixed point of split and total. Hand-set shares are kept and counted."
)
JOINT_KEY = "joint mixture"  # where fit.yaml records the planned mixture and its joint prediction
GRID = 400  # total shares tried before the ε crossing is refined by root finding
SPLIT_ROUNDS = 20  # of split, then total, until the split no longer moves


@dataclass
class Mixture:
    general: float
    domains: dict[str, float]
    rule: str
    warnings: list[str]
    efficiency: dict[str, float] = field(default_factory=dict)  # per domain, with ``predicted``
    prediction: JointPrediction | None = None  # the joint ΔL_gen at the budget of these shares

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MixtureInputs:
    """What a rule plans from: each domain's fit (fit.yaml's form), the hand-set shares it keeps,
    ε and the risk, and an offset added to every joint prediction (the check pilot's correction)."""

    fits: dict[str, dict]
    fixed: dict[str, float] = field(default_factory=dict)
    epsilon: float = 0.05
    risk: str = "interval"
    offset: float = 0.0

    def curves(self) -> dict[str, DomainCurve]:
        built = {d: DomainCurve.from_fit(d, fit) for d, fit in self.fits.items()}
        return {d: curve for d, curve in built.items() if curve is not None}

    def bound(self, prediction: JointPrediction) -> float:
        """What the risk rule holds to ε: the interval's upper end, or the point prediction."""
        shifted = prediction.shifted(self.offset)
        return shifted.high if self.risk == "interval" else shifted.change


def combine_domains(
    cmrs: dict[str, float | None], weights: dict[str, float] | None = None
) -> Mixture:
    """One mixture from several domains' CMRs, by SMALLEST_CMR_RULE (conservative: one domain's CMR
    was measured against general data alone, so the domain total must respect the tightest CMR)."""
    usable = {d: c for d, c in cmrs.items() if c}
    notes = [
        f"domain {d!r} has no feasible ratio; it gets share 0" for d in cmrs if d not in usable
    ]
    if not usable:
        return Mixture(1.0, {d: 0.0 for d in cmrs}, SMALLEST_CMR_RULE, notes)
    weights = weights or usable
    total_weight = sum(weights[d] for d in usable)
    domain_total = min(usable.values())
    shares = {d: (domain_total * weights[d] / total_weight if d in usable else 0.0) for d in cmrs}
    return Mixture(1.0 - sum(shares.values()), shares, SMALLEST_CMR_RULE, notes)


def smallest_cmr_mixture(inputs: MixtureInputs) -> Mixture:
    free = {d: fit.get("cmr") for d, fit in inputs.fits.items() if d not in inputs.fixed}
    mixture = combine_domains(free)
    mixture.domains.update(inputs.fixed)
    mixture.general = 1.0 - sum(mixture.domains.values())
    return mixture


def predicted_mixture(inputs: MixtureInputs) -> Mixture:
    curves = inputs.curves()
    free = [d for d in inputs.fits if d not in inputs.fixed and d in curves]
    notes = [
        f"domain {d!r} has no general-loss change per pilot ratio to predict from; it gets share 0"
        for d in inputs.fits
        if d not in inputs.fixed and d not in curves
    ]
    shares = {**dict.fromkeys(inputs.fits, 0.0), **inputs.fixed}
    if not free:
        return Mixture(1.0 - sum(shares.values()), shares, PREDICTED_RULE, notes)
    split = dict.fromkeys(free, 1 / len(free))
    for _ in range(SPLIT_ROUNDS):
        total = spend(inputs, curves, split)
        efficiency = buying_power(curves, free, total + sum(inputs.fixed.values()))
        moved = max(abs(share(efficiency, d) - split[d]) for d in free)
        split = {d: share(efficiency, d) for d in free}
        if moved < 1e-9:
            break
    total = spend(inputs, curves, split)
    shares.update({d: total * split[d] for d in free})
    notes += spend_notes(inputs, total)
    return Mixture(1.0 - sum(shares.values()), shares, PREDICTED_RULE, notes, efficiency)


def share(efficiency: dict[str, float], domain: str) -> float:
    """A domain's part of the total: its buying power over all of theirs; alike when none buys anything."""
    total = sum(efficiency.values())
    return efficiency[domain] / total if total > 0 else 1 / len(efficiency)


def spend(inputs: MixtureInputs, curves: dict[str, DomainCurve], split: dict[str, float]) -> float:
    """The largest total share T of the free domains, split by ``split``, whose risk bound stays
    within ε for every total up to it: the first crossing of ε, read on a grid and refined."""
    from scipy.optimize import brentq  # here: pipeline.config reads MIXTURE_RULES at every start

    room = 1.0 - sum(inputs.fixed.values())
    if room <= 0:
        return 0.0

    def excess(total: float) -> float:
        shares = {**inputs.fixed, **{d: total * part for d, part in split.items()}}
        return inputs.bound(predict(curves, shares)) - inputs.epsilon

    grid = np.linspace(0.0, room, GRID + 1)
    grid[0] = 1e-9 * room  # S = 0 has no composition; the limit from above has
    over = [i for i, total in enumerate(grid) if excess(total) > 0]
    if not over:
        return room
    if over[0] == 0:
        return 0.0
    return float(brentq(excess, grid[over[0] - 1], grid[over[0]], xtol=1e-10))


def buying_power(
    curves: dict[str, DomainCurve], domains: list[str], total: float
) -> dict[str, float]:
    """Per domain, alone at displacement ``total`` (read within its pilots' ratios, where its laws were
    fitted): its domain-loss drop per unit of general-loss rise. A domain that buys nothing gets 0;
    one whose general-loss rise is not positive costs nothing and gets a very large power."""
    power = {}
    for domain in domains:
        curve = curves[domain]
        at = float(np.clip(total, *curve.ratios))
        drop = curve.domain_drop(at)
        power[domain] = max(drop or 0.0, 0.0) / max(curve.rise(at), 1e-9)
    return power


def spend_notes(inputs: MixtureInputs, total: float) -> list[str]:
    read = "upper end of the interval" if inputs.risk == "interval" else "point prediction"
    room = 1.0 - sum(inputs.fixed.values())
    if total == 0 and room > 0:
        return [
            f"even the smallest domain share raises the general loss by more than epsilon={inputs.epsilon} "
            f"(the {read} of the joint prediction): the domains get 0; try a larger epsilon or budget"
        ]
    if total == room > 0:
        return [
            f"the joint prediction stays within epsilon={inputs.epsilon} ({read}) even with no general "
            "data: the domains take all the CPT tokens; check epsilon and the budget"
        ]
    return []


MIXTURE_RULES: dict[str, Callable[[MixtureInputs], Mixture]] = {
    "predicted": predicted_mixture,
    "smallest_cmr": smallest_cmr_mixture,
}


def plan_mixture(rule: str, inputs: MixtureInputs) -> Mixture:
    """The mixture of rule ``rule`` (a key of MIXTURE_RULES), with the joint prediction of its shares."""
    mixture = MIXTURE_RULES[rule](inputs)
    curves = inputs.curves()
    if curves:
        mixture.prediction = predict(curves, mixture.domains).shifted(inputs.offset)
    return mixture
