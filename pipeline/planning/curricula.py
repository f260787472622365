"""The curricula ``critmix plan`` writes, built as ``trainer.curriculum.Curriculum`` and validated on
write: the base model's, each pilot's, the joint check pilot's, the planned one and its 1.5x
validation run.

The planned curriculum is a general phase, continual pre-training (CPT) at the planned mixture (in
one part per configured quality tier, ``curate.buckets.tiers``, each weighting its own tier up, when
``plan.quality_ascending``), and a short anneal on the top tier alone. With ``plan.metadata`` set, its
phases carry metadata prefixes (MeCo) up to ``until`` of the curriculum's tokens, then train plain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from core.errors import CritmixError
from pipeline.config import CritmixConfig
from stages.schema import UNSCORED_TIER
from trainer.curriculum import Curriculum, DomainMix, LRSegment, MetadataSpec, Phase

EMPHASIS = (
    3.0  # a quality-ascending part weights its own tier's tokens this much more than the others
)


class PlanError(CritmixError):
    """The plan cannot go on; the message says what to change."""


def base_phase(config: CritmixConfig) -> Phase:
    """Pre-training on general data: cosine from ``base_lr`` to ``base_final_lr``."""
    plan = config.plan
    lr = LRSegment(
        "cosine", plan.base_lr, plan.base_final_lr, warmup_tokens=int(0.02 * plan.base_tokens)
    )
    general = {plan.general_domain: DomainMix(1.0, chosen_by={"method": "general pre-training"})}
    return Phase("general", plan.base_tokens, init="scratch", lr=lr, mixture=general)


def base_curriculum(config: CritmixConfig) -> Curriculum:
    return Curriculum(general_domain=config.plan.general_domain, phases=[base_phase(config)])


def cpt_lr(config: CritmixConfig, tokens: int, warmup: bool = True) -> LRSegment:
    """Continual pre-training: a short warmup to a constant LR near the base's final LR."""
    pilots = config.plan.pilots
    peak = pilots.lr if pilots.lr is not None else config.plan.base_final_lr
    return LRSegment(
        "constant", peak, peak, warmup_tokens=int(pilots.warmup_fraction * tokens) if warmup else 0
    )


def pilot_curriculum(
    config: CritmixConfig, domain: str, ratio: float, base_model: Path
) -> Curriculum:
    """A pilot at ``ratio`` of ``domain``; at R = 0 the control, which trains on general data alone and
    lists every planned domain at share 0 so that the trainer evaluates it on them too."""
    plan = config.plan
    if ratio == 0:
        mixture = {
            d: DomainMix(0.0, chosen_by={"method": "control: evaluated, not trained"})
            for d in config.plan_domains()
        }
        mixture[plan.general_domain] = DomainMix(1.0, chosen_by={"method": "control"})
    else:
        mixture = {domain: DomainMix(ratio, chosen_by={"method": "pilot"})}
    if 0 < ratio < 1:
        mixture[plan.general_domain] = DomainMix(1 - ratio, chosen_by={"method": "pilot"})
    return one_phase_pilot(config, mixture, base_model)


def joint_pilot_curriculum(
    config: CritmixConfig, shares: dict[str, float], base_model: Path
) -> Curriculum:
    """The joint check pilot: a pilot at the planned mixture ``shares``, general data taking the rest."""
    how = {"method": "joint check pilot"}
    mixture = {d: DomainMix(share, chosen_by=how) for d, share in shares.items() if share > 0}
    general = round(1.0 - sum(shares.values()), 12)  # float noise must not read as a share
    if general > 0:
        mixture[config.plan.general_domain] = DomainMix(general, chosen_by=how)
    return one_phase_pilot(config, mixture, base_model)


def one_phase_pilot(
    config: CritmixConfig, mixture: dict[str, DomainMix], base_model: Path
) -> Curriculum:
    """A pilot's curriculum: ``plan.pilots.tokens`` of CPT from the base model at ``mixture``."""
    tokens = config.plan.pilots.tokens
    phase = Phase("pilot", tokens, init=str(base_model), lr=cpt_lr(config, tokens), mixture=mixture)
    return Curriculum(general_domain=config.plan.general_domain, phases=[phase])


def bucket_tokens(shards: Path) -> dict[str, dict[str, int]]:
    """Estimated tokens per domain and bucket key ``<quality>/<length>``."""
    import pyarrow.dataset as ds

    table = ds.dataset(shards, format="parquet", partitioning="hive").to_table(
        columns=["domain", "quality_tier", "length_bucket", "n_tokens_est"]
    )
    sums = table.group_by(["domain", "quality_tier", "length_bucket"]).aggregate(
        [("n_tokens_est", "sum")]
    )
    out: dict[str, dict[str, int]] = {}
    for row in sums.to_pylist():
        tier = row["quality_tier"] or UNSCORED_TIER  # the name the trainer's token buckets use
        out.setdefault(row["domain"], {})[f"{tier}/{row['length_bucket']}"] = row[
            "n_tokens_est_sum"
        ]
    return out


def quality_tiers(config: CritmixConfig) -> list[str]:
    """The configured quality tiers, lowest first; none when quality scoring is off."""
    return list(config.curate.buckets.tiers) if config.curate.quality.enabled else []


def tier_weights(buckets: dict, domain: str, emphasis: str | None = None) -> dict[str, float]:
    """A domain's bucket weights: token counts, the ``emphasis`` tier's weighted up."""
    return {
        key: float(count) * (EMPHASIS if key.split("/")[0] == emphasis else 1.0)
        for key, count in sorted(buckets[domain].items())
    }


def top_tier_weights(buckets: dict, domain: str, top: str) -> dict[str, float]:
    """A domain's buckets of the top tier alone, weighted by token count."""
    weights = {
        key: float(count)
        for key, count in sorted(buckets[domain].items())
        if key.split("/")[0] == top and count
    }
    if not weights:
        raise PlanError(
            f"the anneal trains on the top quality tier '{top}', but domain '{domain}' has no tokens in it; "
            f"set plan.anneal_fraction=0, or change curate.buckets.tiers/tier_quantiles so '{top}' "
            f"holds documents of every planned domain"
        )
    return weights


def mixture(
    shares: dict[str, float],
    chosen: dict[str, dict],
    general_domain: str,
    weigh: Callable[[str], dict[str, float]],
) -> dict[str, DomainMix]:
    """The planned shares, the general domain taking the remainder; ``weigh(domain)`` gives its bucket weights."""
    general = round(1.0 - sum(shares.values()), 12)  # float noise must not read as a negative share
    planned = {
        general_domain: (general, {"method": "remainder"}),
        **{domain: (value, chosen[domain]) for domain, value in shares.items() if value > 0},
    }
    return {
        domain: DomainMix(value, weigh(domain) if value > 0 else {}, how)
        for domain, (value, how) in planned.items()
    }


def planned_curriculum(
    config: CritmixConfig, shares: dict, chosen: dict, buckets: dict, notes: Sequence[str] = ()
) -> Curriculum:
    """General phase, CPT at the planned mixture (quality ascending over the tiers), top-tier anneal."""
    plan = config.plan
    budget = plan.budget or plan.pilots.tokens
    tiers, warnings = quality_tiers(config), list(notes)
    if not tiers and (plan.quality_ascending or plan.anneal_fraction):
        warnings.append(
            "curate.quality.enabled is false, so there are no quality tiers: CPT is one phase at the "
            "planned mixture and there is no anneal"
        )
    parts = tiers if plan.quality_ascending and tiers else [None]
    phases = [base_phase(config)]
    for index, tier in enumerate(parts):
        weigh = partial(tier_weights, buckets, emphasis=tier)
        phases.append(
            Phase(
                f"cpt-{tier}" if tier else "cpt",
                budget // len(parts),
                lr=cpt_lr(config, budget, index == 0),
                mixture=mixture(shares, chosen, plan.general_domain, weigh),
            )
        )
    anneal_tokens = int(plan.anneal_fraction * budget) if tiers else 0
    if anneal_tokens:
        weigh = partial(top_tier_weights, buckets, top=tiers[-1])
        lr = LRSegment("linear", cpt_lr(config, budget).peak, 0.0)
        phases.append(
            Phase(
                "anneal",
                anneal_tokens,
                lr=lr,
                mixture=mixture(shares, chosen, plan.general_domain, weigh),
            )
        )
    return with_metadata(
        Curriculum(general_domain=plan.general_domain, warnings=warnings, phases=phases),
        plan.metadata,
    )


def with_metadata(curriculum: Curriculum, spec: MetadataSpec | None) -> Curriculum:
    """MeCo over the whole curriculum: the phases carry ``spec.template`` up to ``spec.until`` of the
    curriculum's tokens (not of each phase's), the phase that reaches that point trains plain from
    there, and the phases after it are the plain cooldown."""
    if spec is None:
        return curriculum
    total = sum(phase.tokens for phase in curriculum.phases)
    plain_from, seen = spec.until * total, 0
    provenance = {
        "method": "plan.metadata",
        "until_of_curriculum": spec.until,
        "cooldown_tokens": round(total - plain_from),
    }
    for phase in curriculum.phases:
        share = (plain_from - seen) / phase.tokens
        seen += phase.tokens
        if share > 0:
            phase.metadata = MetadataSpec(
                spec.template, round(min(share, 1.0), 6), chosen_by=provenance
            )
    return curriculum


def validation_curriculum(
    config: CritmixConfig, shares: dict[str, float], buckets: dict
) -> Curriculum:
    """The planned curriculum with the domains' total share scaled by min(1.5, 1 / total), proportions kept:
    past the tolerance, by the plan's own prediction, yet never a negative general share."""
    total = sum(shares.values())
    scale = min(1.5, 1 / total) if total > 0 else 1.5
    over = {domain: value * scale for domain, value in shares.items()}
    chosen = {domain: {"method": f"validation: {scale:.3g}x the plan"} for domain in over}
    return planned_curriculum(config, over, chosen, buckets)
