"""Pilots at several model sizes: each size's config follows the stated rule (LR × W0/W, the same
base tokens per parameter, the same CPT schedule), and the curves carry ``params`` only for several."""

import csv
import json

import pytest

from pipeline.config import load_config
from pipeline.planning.curricula import PlanError
from pipeline.planning.pilots import pilot_dir, pilot_jobs
from pipeline.planning.sizes import (
    PilotSize,
    collect_sized_curves,
    pilot_sizes,
    require_configured_size,
    sized_config,
    target_overrides,
    target_size,
    trainer_params,
    width_of,
)
from pipeline.rundir import RunDir


def config(*overrides):
    return load_config("configs/tiny.yaml", ["plan.pilots.ratios=[0.5,1.0]", *overrides])


def test_no_sizes_or_the_configured_width_is_the_configured_model_in_the_run(in_repo, tmp_path):
    run = RunDir(tmp_path)
    for sizes in ("[]", "[128]", "[tiny]"):
        cfg = config(f"plan.pilots.sizes={sizes}")
        [size] = pilot_sizes(cfg, run, tmp_path / "no-tokens-read")
        assert size.config is cfg and size.run is run and size.params is None


def test_a_size_scales_its_learning_rates_by_width_and_base_tokens_by_parameters(in_repo):
    cfg = config("plan.pilots.lr=0.001")
    half = sized_config(cfg, 64, 0.25)
    assert half.train.model.hidden == 64
    assert half.plan.base_lr == pytest.approx(2 * cfg.plan.base_lr)
    assert half.plan.base_final_lr == pytest.approx(2 * cfg.plan.base_final_lr)
    assert half.plan.pilots.lr == pytest.approx(0.002)
    assert half.plan.base_tokens == round(cfg.plan.base_tokens / 4)
    assert (half.plan.pilots.tokens, half.plan.pilots.ratios) == (
        cfg.plan.pilots.tokens,
        cfg.plan.pilots.ratios,
    )  # the same CPT schedule
    assert cfg.train.model.hidden == 0 and cfg.plan.pilots.lr == 0.001  # the original is untouched


def test_sizes_are_widths_or_presets(in_repo):
    cfg = config()
    assert (width_of(cfg), width_of(cfg, "small"), width_of(cfg, 96)) == (128, 256, 96)
    with pytest.raises(PlanError, match="neither a width nor one of"):
        width_of(cfg, "huge")


def write_tokenizer(folder):
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({f"w{i}": i for i in range(100)}, unk_token="w0")).save(
        str(folder / "tokenizer.json")
    )


def test_the_parameter_count_is_the_trainers_model(tmp_path, in_repo):
    from trainer.model import build_model

    write_tokenizer(tmp_path)
    cfg = sized_config(config(), 64, 1.0)
    built = build_model(cfg.train.model, 100).num_parameters()
    assert trainer_params(cfg, tmp_path) == built


def test_several_sizes_refuse_a_given_base_model_and_an_export(tmp_path, in_repo):
    cfg = config("plan.pilots.sizes=[64,128]", f"plan.base_model={tmp_path}")
    with pytest.raises(PlanError, match="plan.base_model is one model"):
        pilot_sizes(cfg, RunDir(tmp_path), tmp_path)
    with pytest.raises(PlanError, match="--export-pilots"):
        require_configured_size(cfg, "--export-pilots")
    require_configured_size(config("plan.pilots.sizes=[128]"), "--export-pilots")


def write_metrics(cfg, run, loss):
    for domain, ratio, seed in pilot_jobs(cfg):
        path = pilot_dir(run, domain, ratio, seed) / "metrics.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        records = [{"tokens": t, "val": {"general": loss + t, "legal": loss - t}} for t in (0, 1)]
        path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_the_curves_of_several_sizes_carry_each_sizes_parameters(tmp_path, in_repo):
    run, cfg = RunDir(tmp_path), config()
    sizes = [
        PilotSize(w, p, sized_config(cfg, w, 1.0), RunDir(tmp_path / f"sizes/w{w}"))
        for w, p in ((64, 300), (128, 900))
    ]
    for size in sizes:
        write_metrics(size.config, size.run, size.width)
    with collect_sized_curves(sizes, run).open() as f:
        rows = list(csv.DictReader(f))
    per_size = len(pilot_jobs(cfg)) * 2  # two evaluations, one domain (the control's under legal)
    assert [r["params"] for r in rows] == ["300"] * per_size + ["900"] * per_size
    assert {float(r["general_loss"]) for r in rows if r["params"] == "900"} == {128.0, 129.0}
    write_metrics(cfg, run, 1)
    one = PilotSize(128, None, cfg, run)
    with collect_sized_curves([one], run).open() as f:
        assert "params" not in next(csv.DictReader(f))  # one size: the curves of before


def test_the_target_model_trains_by_the_sizes_rule_at_its_own_parameter_count(tmp_path, in_repo):
    write_tokenizer(tmp_path)
    cfg, run = (
        config("plan.target.model=small"),
        RunDir(tmp_path),
    )  # width 256, twice the configured
    target = target_size(cfg, run, tmp_path)
    assert target is not None and target.width == 256
    assert target.params == trainer_params(sized_config(cfg, 256, 1.0), tmp_path)
    reference = trainer_params(cfg, tmp_path)
    assert target.config.plan.base_lr == pytest.approx(cfg.plan.base_lr / 2)
    assert target.config.plan.base_tokens == round(cfg.plan.base_tokens * target.params / reference)
    assert target_overrides(cfg) == ["--set", "model.hidden=256"]


def test_no_target_model_or_the_configured_width_trains_the_configured_model(tmp_path, in_repo):
    for cfg in (config(), config("plan.target.model=128"), config("plan.target.params=4e6")):
        assert target_size(cfg, RunDir(tmp_path), tmp_path / "no-tokens-read") is None
        assert target_overrides(cfg) == []


def test_a_target_is_a_model_trained_here_or_a_count_not_both(in_repo, tmp_path):
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="plan.target: set model"):
        config("plan.target.model=256", "plan.target.params=4e6")
    with pytest.raises(PlanError, match="plan.target.model: 'huge' is neither"):
        target_size(config("plan.target.model=huge"), RunDir(tmp_path), tmp_path)


def test_the_sizes_below_the_largest_run_the_smaller_ratios(tmp_path, in_repo):
    write_tokenizer(tmp_path)
    cfg = config("plan.pilots.sizes=[64,96,128]", "plan.pilots.smaller_ratios=[0.25,1.0]")
    sizes = pilot_sizes(cfg, RunDir(tmp_path), tmp_path)
    assert [s.config.plan.pilots.ratios for s in sizes] == [[0.25, 1.0], [0.25, 1.0], [0.5, 1.0]]
    everywhere = pilot_sizes(config("plan.pilots.sizes=[64,128]"), RunDir(tmp_path), tmp_path)
    assert [s.config.plan.pilots.ratios for s in everywhere] == [[0.5, 1.0]] * 2
