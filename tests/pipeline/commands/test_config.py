import pytest

from core.errors import ConfigError
from pipeline.config import load_config


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_partial_recipe_takes_defaults_and_overrides(tmp_path):
    path = write(tmp_path, "name: x\nsources:\n  - {name: a, domain: legal, paths: ['*.jsonl']}\n")
    config = load_config(path, ["curate.workers=1", "curate.normalize.min_chars=5"])
    assert config.name == "x"
    assert config.curate.workers == 1
    assert config.curate.normalize.min_chars == 5
    assert config.curate.tasks == 4  # default kept
    assert config.sources[0].format == "auto" and config.sources[0].id_key == "id"


def test_unknown_key_names_it_and_suggests(tmp_path):
    path = write(tmp_path, "name: x\ncurate:\n  wrokers: 2\n")
    with pytest.raises(ConfigError, match=r"curate\.wrokers.*did you mean 'workers'"):
        load_config(path)


def test_wrong_type_names_the_key(tmp_path):
    path = write(tmp_path, "name: x\n")
    with pytest.raises(ConfigError, match=r"curate\.workers: expected int"):
        load_config(path, ["curate.workers=two"])


def test_bad_format_suggests(tmp_path):
    path = write(tmp_path, "sources:\n  - {name: a, domain: d, paths: [x], format: jsnl}\n")
    with pytest.raises(ConfigError, match=r"format.*did you mean 'jsonl'"):
        load_config(path)


def test_source_from_command_line(tmp_path):
    config = load_config(write(tmp_path, "name: x\n"), extra_sources=["lic:legal:data/*.jsonl"])
    assert (config.sources[0].name, config.sources[0].domain, config.sources[0].paths) == (
        "lic",
        "legal",
        ["data/*.jsonl"],
    )
    with pytest.raises(ConfigError, match="NAME:DOMAIN:GLOB"):
        load_config(write(tmp_path, "name: x\n"), extra_sources=["lic-legal"])


def test_duplicate_source_names_refused(tmp_path):
    path = write(
        tmp_path,
        "sources:\n  - {name: a, domain: d, paths: [x]}\n  - {name: a, domain: e, paths: [y]}\n",
    )
    with pytest.raises(ConfigError, match="unique"):
        load_config(path)


def test_demo_config_loads(in_repo):
    config = load_config("configs/demo.yaml")
    assert {s.domain for s in config.sources} >= {"general", "legal", "techdocs", "mathcode"}


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b", ".hidden", ""])
def test_run_name_cannot_leave_the_runs_directory(tmp_path, name):
    with pytest.raises(ConfigError, match="plain name"):
        load_config(write(tmp_path, "name: x\n"), [f"name={name!r}" if name else "name=''"])


@pytest.mark.parametrize("cache", ["/tmp/models", "../models", "data/../../models"])
def test_classifier_cache_cannot_leave_the_project(tmp_path, cache):
    with pytest.raises(ConfigError, match="cache_dir"):
        load_config(write(tmp_path, "name: x\n"), [f"curate.quality.cache_dir={cache}"])
