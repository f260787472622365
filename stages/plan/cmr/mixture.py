"""One mixture from several domains' CMRs."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Mixture:
    general: float
    domains: dict[str, float]
    rule: str
    warnings: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


COMBINATION_RULE = (
    "the domains together take the smallest feasible domain CMR, split in proportion to "
    "weights (default: each domain's CMR); general data takes the rest. So every domain's share "
    "is at most its own CMR, the general share is at least what every domain's CMR leaves, and "
    "the shares sum to 1. Domains with no feasible ratio get 0 and do not constrain the others."
)


def combine_domains(
    cmrs: dict[str, float | None], weights: dict[str, float] | None = None
) -> Mixture:
    """One mixture from several domains' CMRs, by COMBINATION_RULE (conservative: one domain's CMR
    was measured against general data alone, so the domain total must respect the tightest CMR)."""
    usable = {d: c for d, c in cmrs.items() if c}
    notes = [
        f"domain {d!r} has no feasible ratio; it gets share 0" for d in cmrs if d not in usable
    ]
    if not usable:
        return Mixture(1.0, {d: 0.0 for d in cmrs}, COMBINATION_RULE, notes)
    weights = weights or usable
    total_weight = sum(weights[d] for d in usable)
    domain_total = min(usable.values())
    shares = {d: (domain_total * weights[d] / total_weight if d in usable else 0.0) for d in cmrs}
    return Mixture(1.0 - sum(shares.values()), shares, COMBINATION_RULE, notes)
