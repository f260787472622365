"""Pilots at several model sizes (``plan.pilots.sizes``): the base model and the pilot sweep at each
width, their curves merged into one ``plan/curves.csv`` with a ``params`` column, which the fit
carries to ``plan.target.params`` (stages/plan/cmr/sizes.py).

Sizes are comparable by construction (docs/design.md, "Pilots at several sizes"): against the
configured model (``train.model``, the reference width W0, whose learning rates the config states)
a size of width W trains

- every learning rate (``plan.base_lr``, ``plan.base_final_lr``, ``plan.pilots.lr``) times W0 / W,
  the μP rule for hidden matrices applied to the whole model, which the trainer drives with one LR;
- a base model on the same general tokens per parameter (``plan.base_tokens`` times P(W) / P(W0));
- the same CPT schedule: the same pilot tokens, ratios, warmup and evaluation points.

Each size lives in ``<run>/sizes/w<W>/`` (its resolved config, base model and pilots), sharing the
run's tokens. No sizes set (the default), or only the configured width: the configured model, in the run itself,
as before sizes.
"""

from __future__ import annotations

import copy
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from core.files import atomic_write_text
from pipeline.config import CritmixConfig
from pipeline.planning.adaptive_runs import run_adaptive_pilots
from pipeline.planning.curricula import PlanError
from pipeline.planning.pilots import collect_curves, ensure_base, run_pilots
from pipeline.planning.trainer_runs import save_resolved_config
from pipeline.progress import console
from pipeline.rundir import RunDir
from stages.plan.data.curves import COLUMNS, OPTIONAL_COLUMNS, SIZE_COLUMN


@dataclass
class PilotSize:
    """One pilot size: its width, parameter count, config and directory."""

    width: int  # 0: the configured model as it is (train.model)
    params: int | None  # None: the configured model, whose count the plan does not need
    config: CritmixConfig
    run: RunDir


def width_of(
    config: CritmixConfig, size: int | str | None = None, key: str = "plan.pilots.sizes"
) -> int:
    """The width of ``size`` (a width, or a preset name: its width); None: the configured model's."""
    from trainer.model import PRESETS

    model = config.train.model
    if size is None:
        return model.hidden or PRESETS[model.preset][0]
    if isinstance(size, str):
        if size not in PRESETS:
            raise PlanError(f"{key}: {size!r} is neither a width nor one of {list(PRESETS)}")
        return PRESETS[size][0]
    return size


def require_configured_size(config: CritmixConfig, flag: str) -> None:
    """Exported pilots run at the configured size alone: ``run_pilots.sh`` trains one base model."""
    sizes = config.plan.pilots.sizes
    if sizes and {width_of(config, s) for s in sizes} - {width_of(config)}:
        raise PlanError(
            f"{flag} moves the configured model's pilots alone, and plan.pilots.sizes sets other "
            "widths: plan here, or drop plan.pilots.sizes"
        )


def trainer_params(config: CritmixConfig, tokens: Path) -> int:
    """The parameter count the trainer's model has at this config and the run's tokenizer (built
    on the meta device: no memory, no weights)."""
    import torch
    from tokenizers import Tokenizer

    from trainer.model import build_model

    vocab = Tokenizer.from_file(str(tokens / "tokenizer.json")).get_vocab_size()
    with torch.device("meta"):
        return int(build_model(config.train.model, vocab).num_parameters())


def sized_config(config: CritmixConfig, width: int, scale_tokens: float) -> CritmixConfig:
    """``config`` at ``width``: learning rates times W0 / W, base tokens times ``scale_tokens``."""
    sized = copy.deepcopy(config)
    lr_scale = width_of(config) / width
    plan = sized.plan
    sized.train.model.hidden = width
    plan.base_tokens = round(config.plan.base_tokens * scale_tokens)
    plan.base_lr *= lr_scale
    plan.base_final_lr *= lr_scale
    if plan.pilots.lr is not None:
        plan.pilots.lr *= lr_scale
    return sized


def pilot_sizes(config: CritmixConfig, run: RunDir, tokens: Path) -> list[PilotSize]:
    """The sizes the pilots run at, smallest first; none set: the configured model, in ``run``."""
    if not config.plan.pilots.sizes:  # the default, read without importing the trainer's model
        return [PilotSize(config.train.model.hidden, None, config, run)]
    widths = sorted({width_of(config, s) for s in config.plan.pilots.sizes})
    if widths == [width_of(config)]:
        return [PilotSize(widths[0], None, config, run)]
    if config.plan.base_model:
        raise PlanError(
            f"plan.base_model is one model, so it cannot be the base of pilots at widths {widths}: "
            "drop plan.base_model or plan.pilots.sizes"
        )
    reference = trainer_params(config, tokens)
    sizes = [at_width(config, w, reference, tokens, RunDir(run / f"sizes/w{w}")) for w in widths]
    for smaller in sizes[:-1]:  # the size law needs each one's CMR; the largest's fit does the rest
        pilots = smaller.config.plan.pilots
        pilots.ratios = config.plan.pilots.smaller_ratios or pilots.ratios
    return sizes


def at_width(
    config: CritmixConfig, width: int, reference: int, tokens: Path, run: RunDir
) -> PilotSize:
    """``config`` at ``width`` by the sizes' rule; ``reference``: the configured model's parameters."""
    params = trainer_params(sized_config(config, width, 1.0), tokens)
    return PilotSize(width, params, sized_config(config, width, params / reference), run)


def target_size(config: CritmixConfig, run: RunDir, tokens: Path) -> PilotSize | None:
    """The model ``critmix train`` trains when ``plan.target.model`` names one: trained like a pilot
    size (learning rates times W0 / W, base tokens per parameter), so the curriculum's base phase and
    learning rates are its own. None: the configured model, or a target trained elsewhere."""
    model = config.plan.target.model
    if model is None or width_of(config, model, "plan.target.model") == width_of(config):
        return None
    width = width_of(config, model, "plan.target.model")
    target = at_width(config, width, trainer_params(config, tokens), tokens, run)
    console.print(
        f"target model: width {width}, {target.params:,} parameters, "
        f"base {target.config.plan.base_tokens:,} tokens, base LR {target.config.plan.base_lr:.3g}"
    )
    return target


def target_overrides(config: CritmixConfig) -> list[str]:
    """The trainer's ``--set`` for the target model's width (none without ``plan.target.model``)."""
    model = config.plan.target.model
    if model is None or width_of(config, model, "plan.target.model") == width_of(config):
        return []
    return ["--set", f"model.hidden={width_of(config, model, 'plan.target.model')}"]


def train_sizes(
    config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path
) -> tuple[list[PilotSize], dict]:
    """Base model and pilots at every size; the sizes, and what the joint check pilot needs to train
    at the largest (config_path, tokens, base)."""
    sizes = pilot_sizes(config, run, tokens)
    trained: dict = {}
    for size in sizes:
        if size.run is not run:
            console.print(
                f"pilot size: width {size.width}, {size.params:,} parameters, "
                f"base {size.config.plan.base_tokens:,} tokens, base LR {size.config.plan.base_lr:.3g}"
            )
            config_path = save_resolved_config(size.config, size.run)
        base = ensure_base(size.config, size.run, config_path, tokens)
        pilots = run_adaptive_pilots if size.config.plan.pilots.adaptive else run_pilots
        pilots(size.config, size.run, config_path, tokens, base)
        trained = {"config_path": config_path, "tokens": tokens, "base": base}
    return sizes, trained


def collect_sized_curves(sizes: list[PilotSize], run: RunDir) -> Path:
    """``plan/curves.csv``: one size's rows as before; several sizes' rows with their ``params``."""
    if sizes[0].run is run:
        return collect_curves(sizes[0].config, run)
    rows = []
    for size in sizes:
        text = collect_curves(size.config, size.run).read_text()
        rows += [{**row, SIZE_COLUMN: size.params} for row in csv.DictReader(io.StringIO(text))]
    columns = [*COLUMNS, *OPTIONAL_COLUMNS, *([SIZE_COLUMN] if len(sizes) > 1 else [])]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path = run / "plan/curves.csv"
    atomic_write_text(path, out.getvalue())
    return path
