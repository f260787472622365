"""The whole-project configuration: YAML recipe + ``--set`` overrides -> typed dataclasses.

A recipe holds only the keys it changes; everything else takes the defaults below. Each curation
stage owns its config dataclass (in its module); this file composes them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from core.config import apply_overrides, from_mapping, load_yaml, to_mapping
from core.errors import ConfigError
from pipeline.executors import EXECUTORS
from stages.buckets import BucketConfig
from stages.dedup.boilerplate import BoilerplateConfig
from stages.dedup.exact import ExactDedupConfig
from stages.dedup.signatures import MinhashConfig
from stages.ingest.heuristics import HeuristicsConfig
from stages.ingest.langid import LanguageIdConfig
from stages.ingest.normalize import NormalizeConfig
from stages.ingest.readers import SourceSpec
from stages.ingest.toxicity import ToxicityConfig
from stages.plan.cmr.mixture import MIXTURE_RULES
from stages.plan.settings import RISKS
from stages.quality.scoring import QualityConfig
from trainer.config import TrainConfig
from trainer.curriculum import MetadataSpec

DEFAULT_CONFIG = Path("configs/demo.yaml")
# Keys that change how curation runs but never what it produces.
# How a curate runs and what it says, not what it writes: left out of the key of its output.
EXECUTION_KEYS = ("executor", "workers", "slurm", "warn_removed_share")
# Counts of processes, threads and tasks, and the least each may be: below it there would be no work at
# all, or a pool that cannot start (every command refuses them, not only the one that uses the key).
COUNTS = {
    "curate.workers": (1, "curate --workers sets it"),
    "curate.tasks": (1, "curate --tasks sets it"),
    "plan.pilots.parallel": (1, "the pilots trained at once"),
    "train.data.tokenize_workers": (1, "the threads that tokenize"),
    "train.threads": (0, "0 is torch's default"),
}
# A run name becomes a directory under runs/, so it may not climb out of it.
SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


@dataclass
class SourceConfig:
    name: str
    domain: str
    paths: list[str]
    format: Literal["jsonl", "parquet", "text", "auto"] = "auto"
    text_key: str = "text"
    id_key: str = "id"

    def spec(self, root: Path) -> SourceSpec:
        return SourceSpec(
            self.name, self.domain, self.paths, self.format, self.text_key, self.id_key, str(root)
        )


@dataclass
class SlurmConfig:
    """Where ``--executor slurm`` sends its array jobs (one per phase of every stage) on a cluster."""

    partition: str = "cpu"
    time: str = "04:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    submit: bool = False  # False: write the sbatch scripts and print how to submit them


@dataclass
class CurateConfig:
    executor: str = "local"  # a name of pipeline/executors EXECUTORS
    tasks: int = 4
    workers: int = 2
    # An ingest task's kept documents go to work files of about this much text each: every later per-file task
    # reads a whole file, so this, not the corpus size over ``tasks``, bounds their memory.
    work_file_mb: float = 128
    # A stage that removes more than this share of a source's documents is named on the console, with its key.
    warn_removed_share: float = 0.25
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    langid: LanguageIdConfig = field(default_factory=LanguageIdConfig)
    heuristics: HeuristicsConfig = field(default_factory=HeuristicsConfig)
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)
    exact_dedup: ExactDedupConfig = field(default_factory=ExactDedupConfig)
    minhash: MinhashConfig = field(default_factory=MinhashConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    toxicity: ToxicityConfig = field(default_factory=ToxicityConfig)
    buckets: BucketConfig = field(default_factory=BucketConfig)


@dataclass
class PilotConfig:
    """The small continual-pre-training runs the CMR law is fitted on."""

    ratios: list[float] = field(default_factory=lambda: [1 / 8, 1 / 4, 1 / 3, 1 / 2, 3 / 4, 1.0])
    tokens: int = 300_000  # CPT tokens of each pilot
    warmup_fraction: float = 0.02  # a longer warmup puts every general-loss peak right after it
    lr: float | None = None  # default: the base model's final LR
    eval_points: int = 12  # log-spaced, so several fall before the general-loss peak
    first_eval_tokens: int | None = None  # default: 1% of the pilot budget
    parallel: int = 2  # pilots at once, one thread each
    # Pilots per trainer process, trained one after another (no start-up per pilot); "auto": all the
    # pilots split evenly over the `parallel` processes. 1: a process per pilot.
    fuse: int | Literal["auto"] = 1
    seeds: int = (
        2  # runs per ratio, each with its own data order (train.seed + i); the fit uses them all
    )
    control: bool = (
        True  # an R = 0 pilot per seed: general data only, the same tokens (the ε reference)
    )
    joint: bool = True  # one more pilot at the planned mixture, to check its joint prediction
    # Widths or presets the base model and pilots also run at, e.g. [64, 96, 128]; empty: train.model's
    # size alone. Each size's LRs scale by W0/W and its base tokens by its parameters (pipeline/planning/sizes.py).
    sizes: list[int | str] = field(default_factory=list)
    # The ratios every size below the largest runs, e.g. [0.25, 0.5, 1.0]; empty: all of `ratios`. The
    # size law reads one CMR per size, which three ratios place well enough (README, "sizes" table).
    smaller_ratios: list[float] = field(default_factory=list)
    # Adaptive ratios (pipeline/planning/adaptive.py): rounds of pilots placed inside the CMR's
    # interval instead of `ratios`, until it is `target_width` wide or `max_pilots` are spent.
    adaptive: bool = False
    first_ratios: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])  # round one
    round_ratios: int = 2  # ratios per later round
    target_width: float = 0.15  # of the CMR's interval
    max_pilots: int = 12  # per domain, ratios × seeds over all rounds (the controls not counted)
    # With adaptive: a pilot whose general loss rose past stop_above × ε and keeps climbing stops
    # early (trainer/early_stop.py) and is read as ending above ε; 0 = never.
    stop_above: float = 2.0


@dataclass
class TargetConfig:
    """The model the plan is for, when it is not the pilots' size (docs/design.md, "The size law")."""

    # The model `critmix train` trains: a width or a preset of train.model's architecture, at the pilot
    # sizes' LR and tokens-per-parameter rule (pipeline/planning/sizes.py). None: train.model itself.
    model: int | str | None = None
    # Its parameter count, for a target this machine does not train (a larger run elsewhere). With
    # `model` set it is the trainer's own count, so setting both is an error. None: the largest pilot size.
    params: float | None = None


@dataclass
class PlanConfig:
    general_domain: str = "general"
    domains: list[str] = field(
        default_factory=list
    )  # empty: every source domain but the general one
    base_model: str | None = None  # an HF checkpoint directory; default: train one on general data
    base_tokens: int = 1_500_000
    base_lr: float = 3e-3
    base_final_lr: float = 3e-4
    pilots: PilotConfig = field(default_factory=PilotConfig)
    target: TargetConfig = field(default_factory=TargetConfig)
    lam: float = 1000.0  # the Lagrange multiplier of the CMR objective
    epsilon: float = 0.05  # tolerated rise of the general loss, in loss units
    mixture: str = "predicted"  # how the domains' shares are chosen: a rule of MIXTURE_RULES
    risk: str = (
        "interval"  # what of the predicted change is held to ε: interval (its upper end) | point
    )
    # What the general-loss change is measured against: "control" (the R = 0 pilot at the same tokens)
    # or "base" (the model before CPT, the paper's). Default: control when plan.pilots.control.
    epsilon_reference: str | None = None
    budget: int | None = None  # CPT tokens the mixture is planned for; default: the pilot budget
    level: float = 0.95  # of the CMR's interval
    bootstrap: int = 100  # bootstrap refits behind the interval
    bootstrap_seed: int = 0
    ratios: dict[str, float] = field(
        default_factory=dict
    )  # shares set by hand, e.g. plan.ratios.legal=0.2
    anneal_fraction: float = 0.1  # the high-quality anneal, as a fraction of the CPT budget
    quality_ascending: bool = (
        True  # CPT in one part per quality tier, its bucket weights moving from low to high
    )
    validate: bool = (
        False  # also train at 1.5x the planned ratio to check the tolerance breaks as predicted
    )
    # MeCo over the planned curriculum, e.g. {template: "{source} {domain}\n\n", until: 0.9}: here `until` is
    # the share of the whole curriculum's tokens with prefixes (pipeline/planning/curricula.py spreads it over the phases)
    metadata: MetadataSpec | None = None


@dataclass
class CritmixConfig:
    name: str = "demo"
    sources: list[SourceConfig] = field(default_factory=list)
    curate: CurateConfig = field(default_factory=CurateConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def plan_domains(self) -> list[str]:
        if self.plan.domains:
            return list(self.plan.domains)
        return sorted({s.domain for s in self.sources} - {self.plan.general_domain})

    def output_hash(self) -> str:
        """Hash of everything that shapes the curated output; how it is executed is left out."""
        curate = {k: v for k, v in to_mapping(self.curate).items() if k not in EXECUTION_KEYS}
        payload = {"sources": to_mapping(self.sources), "curate": curate}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def dump(self) -> str:
        return yaml.safe_dump(to_mapping(self), sort_keys=False)


def validate_adaptive(pilots: PilotConfig) -> None:
    """The adaptive-ratio keys, checked whether or not ``plan.pilots.adaptive`` is on."""
    first = pilots.first_ratios
    if len(first) < 3 or not all(0 < r <= 1 for r in first):
        raise ConfigError(
            f"plan.pilots.first_ratios: {first} must hold at least 3 ratios in (0, 1], "
            "e.g. [0.25, 0.5, 0.75] (a CMR needs 3)"
        )
    if pilots.round_ratios < 1:
        raise ConfigError(f"plan.pilots.round_ratios: {pilots.round_ratios} must be at least 1")
    if not 0 < pilots.target_width <= 1:
        raise ConfigError(
            f"plan.pilots.target_width: {pilots.target_width} must lie in (0, 1], e.g. 0.15"
        )
    if pilots.max_pilots < len(first) * pilots.seeds:
        raise ConfigError(
            f"plan.pilots.max_pilots: {pilots.max_pilots} cannot pay for the first round "
            f"({len(first)} ratios x {pilots.seeds} seeds); raise it or shorten first_ratios"
        )
    if pilots.stop_above != 0 and pilots.stop_above < 1:
        raise ConfigError(
            f"plan.pilots.stop_above: {pilots.stop_above} must be 0 (never stop) or at least 1: "
            "a pilot stopped below ε would be read as ending above it"
        )


def parse_source_arg(text: str) -> dict:
    """``NAME:DOMAIN:GLOB`` from the command line, as a sources entry."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ConfigError(
            f"--source '{text}' must look like NAME:DOMAIN:GLOB, e.g. licences:legal:data/raw/licences/*.jsonl"
        )
    return {"name": parts[0], "domain": parts[1], "paths": [parts[2]]}


def load_config(
    path: str | Path | None = None, overrides: Sequence[str] = (), extra_sources: Sequence[str] = ()
) -> CritmixConfig:
    """Load a recipe, apply overrides, validate, return it. Without a recipe: ``configs/demo.yaml``, or with
    ``extra_sources`` (``--source`` alone) just those sources, in a run named after them."""
    added = [parse_source_arg(s) for s in extra_sources]
    if path is None and added:
        data: dict = {"name": "-".join(s["name"] for s in added)}
    else:
        data = load_yaml(path or DEFAULT_CONFIG)
    apply_overrides(data, list(overrides))
    if added:
        data["sources"] = list(data.get("sources") or []) + added
    config = from_mapping(CritmixConfig, data)
    if not SAFE_NAME.fullmatch(config.name):
        raise ConfigError(
            f"name: {config.name!r} must be a plain name (letters, digits, '.', '_', '-'): it becomes runs/<name>/"
        )
    # Domain names become folders (shards/domain=<d>/, tokens/train/<d>/, plan/pilots/<d>-r…), so they may not climb out.
    domains = [
        *(s.domain for s in config.sources),
        config.plan.general_domain,
        *config.plan.domains,
        *config.plan.ratios,
    ]
    unsafe = sorted({d for d in domains if not SAFE_NAME.fullmatch(d)})
    if unsafe:
        raise ConfigError(
            f"domain names {unsafe} must be plain names (letters, digits, '.', '_', '-'): "
            "each becomes a folder of the run directory"
        )
    # The one configured path written outside the run directory: the classifier cache runs share. It may not climb out.
    cache = Path(config.curate.quality.cache_dir)
    if cache.is_absolute() or ".." in cache.parts:
        raise ConfigError(
            f"curate.quality.cache_dir: {str(cache)!r} must be a relative path inside the project "
            "(default data/models); configs may not write elsewhere"
        )
    if config.curate.executor not in EXECUTORS:
        raise ConfigError(
            f"curate.executor: {config.curate.executor!r} is not one of {list(EXECUTORS)}"
        )
    for key, (least, meaning) in COUNTS.items():
        value = functools.reduce(getattr, key.split("."), config)
        if value < least:
            raise ConfigError(f"{key}: {value} must be at least {least} ({meaning})")
    if config.plan.pilots.fuse != "auto" and config.plan.pilots.fuse < 1:
        raise ConfigError(
            f"plan.pilots.fuse: {config.plan.pilots.fuse} must be at least 1, or auto"
        )
    if config.plan.target.model is not None and config.plan.target.params is not None:
        raise ConfigError(
            "plan.target: set model (a width or preset trained here, whose parameters the trainer "
            "counts) or params (a model trained elsewhere), not both"
        )
    if config.plan.pilots.seeds < 1:
        raise ConfigError(f"plan.pilots.seeds: {config.plan.pilots.seeds} must be at least 1")
    validate_adaptive(config.plan.pilots)
    reference = config.plan.epsilon_reference
    if reference not in (None, "base", "control") or (
        reference == "control" and not config.plan.pilots.control
    ):
        raise ConfigError(
            f"plan.epsilon_reference: {reference!r} must be 'base', or 'control' with "
            f"plan.pilots.control: true"
        )
    if config.plan.mixture not in MIXTURE_RULES:
        raise ConfigError(
            f"plan.mixture: {config.plan.mixture!r} is not one of {list(MIXTURE_RULES)}"
        )
    if config.plan.risk not in RISKS:
        raise ConfigError(f"plan.risk: {config.plan.risk!r} is not one of {list(RISKS)}")
    names = [s.name for s in config.sources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"sources: names must be unique, {duplicates} appear more than once")
    return config
