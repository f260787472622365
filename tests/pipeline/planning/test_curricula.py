"""The curricula the planner writes: configured tiers, the top-tier anneal, and the 1.5x validation run."""

import pytest

from core.errors import ConfigError
from pipeline.config import load_config
from pipeline.planning.curricula import PlanError, planned_curriculum, validation_curriculum
from stages.schema import UNSCORED_TIER
from trainer.curriculum import load_curriculum, write_curriculum

TIERS = ["copper", "bronze", "silver", "gold"]  # not the default names, and four of them


def config(*overrides):
    return load_config(
        "configs/tiny.yaml",
        [
            f"curate.buckets.tiers={TIERS}",
            "curate.buckets.tier_quantiles=[0.25,0.5,0.75]",
            *overrides,
        ],
    )


def buckets(tiers=TIERS, domains=("general", "legal")):
    return {
        domain: {
            f"{tier}/{length}": 100 * (i + 1)
            for i, tier in enumerate(tiers)
            for length in ("short", "long")
        }
        for domain in domains
    }


def chosen(shares):
    return {domain: {"method": "cmr_law"} for domain in shares}


def test_phases_follow_the_configured_tiers_and_the_anneal_takes_the_top_one(in_repo, tmp_path):
    shares = {"legal": 0.3}
    spec = planned_curriculum(config(), shares, chosen(shares), buckets())
    names = [phase.name for phase in spec.phases]
    assert names == ["general", *[f"cpt-{tier}" for tier in TIERS], "anneal"]
    for tier, phase in zip(
        TIERS, spec.phases[1:]
    ):  # each part weights its own tier up, and only its own
        weights = phase.mixture["legal"].buckets
        heaviest = max(weights, key=lambda key: weights[key] / buckets()["legal"][key])
        assert heaviest.startswith(f"{tier}/")
    anneal = spec.phases[-1].mixture
    assert {key.split("/")[0] for mix in anneal.values() for key in mix.buckets} == {"gold"}
    write_curriculum(spec, tmp_path / "c.yaml")
    assert load_curriculum(tmp_path / "c.yaml") == spec


def test_an_anneal_with_no_top_tier_tokens_is_an_error_that_names_the_fix(in_repo):
    shares = {"legal": 0.3}
    without_gold = buckets() | {"legal": buckets(TIERS[:-1])["legal"]}
    with pytest.raises(PlanError, match="'legal' has no tokens in it; set plan.anneal_fraction=0"):
        planned_curriculum(config(), shares, chosen(shares), without_gold)
    spec = planned_curriculum(
        config("plan.anneal_fraction=0"), shares, chosen(shares), without_gold
    )
    assert spec.phases[-1].name == "cpt-gold"


def test_quality_off_gives_one_cpt_phase_and_says_so(in_repo):
    shares = {"legal": 0.3}
    spec = planned_curriculum(
        config("curate.quality.enabled=false"), shares, chosen(shares), buckets([UNSCORED_TIER])
    )
    assert [phase.name for phase in spec.phases] == ["general", "cpt"]
    assert any("curate.quality.enabled is false" in note for note in spec.warnings)


@pytest.mark.parametrize(
    "shares, scale",
    [({"legal": 0.1, "other": 0.2}, 1.5), ({"legal": 0.45, "other": 0.34}, 1 / 0.79)],
)
def test_validation_scales_the_domains_total_to_at_most_one_keeping_proportions(
    in_repo, tmp_path, shares, scale
):
    cfg = config()
    spec = validation_curriculum(cfg, shares, buckets(domains=("general", "legal", "other")))
    for phase in spec.phases[1:]:
        mix = {domain: entry.share for domain, entry in phase.mixture.items()}
        assert mix["general"] >= 0 and sum(mix.values()) == pytest.approx(1)
        assert mix["legal"] == pytest.approx(shares["legal"] * scale) and mix[
            "other"
        ] == pytest.approx(shares["other"] * scale)
    write_curriculum(spec, tmp_path / "validate.yaml")  # what the trainer will read


def test_writing_a_negative_general_share_is_refused(in_repo, tmp_path):
    shares = {"legal": 0.45 * 1.5, "other": 0.34 * 1.5}  # the old 1.5x rule: general -0.185
    spec = planned_curriculum(
        config(), shares, chosen(shares), buckets(domains=("general", "legal", "other"))
    )
    with pytest.raises(ConfigError, match="shares must be >= 0 and sum to 1"):
        write_curriculum(spec, tmp_path / "validate.yaml")
    assert not (tmp_path / "validate.yaml").exists()


def test_plan_metadata_prefixes_the_curriculum_until_its_share_of_all_tokens_then_trains_plain(
    in_repo, tmp_path
):
    spec = planned_curriculum(
        config("plan.metadata={template: '{source} {domain}', until: 0.9}"),
        {"legal": 0.3},
        chosen({"legal": 0.3}),
        buckets(),
    )
    tokens = [phase.tokens for phase in spec.phases]
    prefixed = sum(
        t * (phase.metadata.until if phase.metadata else 0) for t, phase in zip(tokens, spec.phases)
    )
    assert prefixed == pytest.approx(0.9 * sum(tokens), rel=1e-5)
    untils = [phase.metadata.until if phase.metadata else 0.0 for phase in spec.phases]
    assert (
        untils == sorted(untils, reverse=True) and untils[0] == 1.0 and untils[-1] < 1.0
    )  # plain at the end
    assert all(
        p.metadata.chosen_by
        == {
            "method": "plan.metadata",
            "until_of_curriculum": 0.9,
            "cooldown_tokens": round(0.1 * sum(tokens)),
        }
        for p in spec.phases
        if p.metadata
    )
    write_curriculum(spec, tmp_path / "c.yaml")
    assert load_curriculum(tmp_path / "c.yaml") == spec
    assert all(
        phase.metadata is None
        for phase in planned_curriculum(
            config(), {"legal": 0.3}, chosen({"legal": 0.3}), buckets()
        ).phases
    )
