import pytest

from core.errors import ConfigError
from pipeline.commands.plan import fit_settings
from pipeline.config import CritmixConfig
from stages.plan.cmr.fit import fit_domain
from stages.plan.settings import FitSettings
from tests.stages.plan.cmr_shapes import make_curves


@pytest.mark.parametrize(
    "change",
    [{"level": 1.0}, {"level": 0.0}, {"draws": 1}, {"epsilon": -0.1}, {"reference": "nothing"}],
)
def test_settings_no_fit_can_use_are_refused_with_what_to_set(change):
    with pytest.raises(ConfigError):
        FitSettings(**change)


def test_the_plan_sets_the_interval_level_and_draws_from_its_config():
    config = CritmixConfig()
    config.plan.level, config.plan.bootstrap, config.plan.bootstrap_seed = 0.8, 12, 3
    settings = fit_settings(config)
    assert (settings.level, settings.draws, settings.seed) == (0.8, 12, 3)
    assert settings.budget == config.plan.pilots.tokens


def test_a_lower_level_gives_a_narrower_interval():
    curves = make_curves("recovery", seed=5)
    wide, narrow = (
        fit_domain(curves, "synth", FitSettings(level=level, draws=30)).ci for level in (0.95, 0.5)
    )
    assert (
        wide[0] <= narrow[0] <= narrow[1] <= wide[1] and narrow[1] - narrow[0] < wide[1] - wide[0]
    )
