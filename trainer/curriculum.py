"""curriculum.yaml: the phases the trainer runs, their LR segments and mixtures.

API: ``load_curriculum(path) -> Curriculum`` (validates, errors name the key),
``write_curriculum(curriculum, path)`` (validates first), and the dataclasses below. The schema:

    version: 1
    general_domain: general
    warnings: []                  # the planner's notes
    phases:
      - name: cpt
        tokens: 2000000
        init: previous            # previous | scratch | <path to an HF checkpoint dir>
        lr: {schedule: cosine, peak: 3.0e-4, final: 3.0e-5, warmup_tokens: 20000,
             decay_fraction: 0.2, rewarm: false}
        mixture:
          general: {share: 0.7, buckets: {high/long: 1.0}, chosen_by: {method: remainder}}
          legal:   {share: 0.3, buckets: {}, chosen_by: {method: cmr_law, cmr: 0.31}}

A phase may also set (both optional; the defaults are plain concatenated windows):

        sequence: {mode: decomposed, lengths: {64: 1, 128: 1, 256: 1}, schedule: cyclic, cycles: 8}
        metadata: {template: "{source} {domain}\n\n", until: 0.9}

``sequence.mode: concat`` (the default) trains on windows of ``model.seq_len`` tokens cut from the
concatenated documents. ``decomposed`` (dataset decomposition, Pouransari et al. 2024) trains on
pieces of 2^k tokens, each from one document, a step's pieces all of one length and as many as
keep the step's tokens constant; ``lengths`` are the token shares per piece length and
``schedule`` orders the steps: ``fixed`` (lengths interleaved), ``short_to_long``, or ``cyclic``
(short to long, ``cycles`` times over). ``metadata`` (MeCo, Gao et al. 2025) prepends the filled
template (fields: source, domain, title, url; a field a document lacks is empty) to every
sequence and to every document starting inside one, for the first ``until`` of the phase's tokens;
the loss on prefix tokens is masked, and the rest of the phase (the cooldown) is plain text.

``buckets: {}`` weights every bucket of the domain by its token count. ``chosen_by`` is
provenance: carried into metrics and the report, never interpreted. ``rewarm: true`` starts the
warmup at the previous phase's final LR instead of 0 (continual pre-training).
"""

from __future__ import annotations

import dataclasses
import string
import typing
from pathlib import Path
from typing import Any

import yaml

from core.config import from_mapping, load_yaml, to_mapping
from core.errors import ConfigError
from core.files import atomic_write_bytes
from trainer.schedule import SCHEDULES


@dataclasses.dataclass
class LRSegment:
    schedule: str = "cosine"  # a name of trainer/schedule.py SCHEDULES
    peak: float = 3e-4
    final: float = 3e-5
    warmup_tokens: int = 0
    decay_fraction: float = 0.2  # wsd: the share of the phase spent decaying at the end
    rewarm: bool = False


@dataclasses.dataclass
class DomainMix:
    share: float
    buckets: dict[str, float] = dataclasses.field(
        default_factory=dict
    )  # "<quality>/<length>" -> weight
    chosen_by: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SequenceSpec:
    mode: typing.Literal["concat", "decomposed"] = "concat"
    lengths: dict[int, float] = dataclasses.field(
        default_factory=dict
    )  # decomposed: piece length -> token share
    schedule: typing.Literal["fixed", "short_to_long", "cyclic"] = "fixed"
    cycles: int = 8  # cyclic: how many short-to-long passes the phase makes


# Fields a metadata template may name; tokenize stores them per document (trainer/data/tokens.py).
METADATA_FIELDS = ("source", "domain", "title", "url")


@dataclasses.dataclass
class MetadataSpec:
    template: str
    until: float = (
        0.9  # share of the phase's tokens trained with prefixes; the rest is the plain cooldown
    )
    chosen_by: dict[str, Any] = dataclasses.field(
        default_factory=dict
    )  # provenance, never interpreted


@dataclasses.dataclass
class Phase:  # fields in the order a reader wants them in the YAML
    name: str
    tokens: int
    init: str = "previous"
    lr: LRSegment = dataclasses.field(default_factory=LRSegment)
    mixture: dict[str, DomainMix] = dataclasses.field(default_factory=dict)
    sequence: SequenceSpec = dataclasses.field(default_factory=SequenceSpec)
    metadata: MetadataSpec | None = None


@dataclasses.dataclass
class Curriculum:
    version: int = 1
    general_domain: str = "general"
    warnings: list[str] = dataclasses.field(
        default_factory=list
    )  # the planner's notes; never interpreted
    phases: list[Phase] = dataclasses.field(default_factory=list)


def validate(curriculum: Curriculum) -> Curriculum:
    if curriculum.version != 1:
        raise ConfigError(
            f"version: {curriculum.version} is not supported; this trainer reads version 1"
        )
    if not curriculum.phases:
        raise ConfigError("phases: the curriculum has no phases; add at least one")
    names = [p.name for p in curriculum.phases]
    if len(set(names)) != len(names):
        raise ConfigError(f"phases: phase names must be unique, got {names}")
    for i, phase in enumerate(curriculum.phases):
        where = f"phases[{i}] ({phase.name})"
        if phase.tokens <= 0:
            raise ConfigError(
                f"{where}.tokens: must be a positive token budget, got {phase.tokens}"
            )
        if not phase.mixture:
            raise ConfigError(f"{where}.mixture: give at least one domain with a share")
        shares = {d: m.share for d, m in phase.mixture.items()}
        if any(s < 0 for s in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
            raise ConfigError(f"{where}.mixture: shares must be >= 0 and sum to 1, got {shares}")
        for domain, mix in phase.mixture.items():
            for key, weight in mix.buckets.items():
                if key.count("/") != 1 or weight < 0:
                    raise ConfigError(
                        f"{where}.mixture.{domain}.buckets.{key}: keys look like 'high/long', weights >= 0"
                    )
        validate_sequence(phase.sequence, f"{where}.sequence")
        if phase.metadata is not None:
            validate_metadata(phase.metadata, f"{where}.metadata")
        lr = phase.lr
        if lr.schedule not in SCHEDULES:
            raise ConfigError(
                f"phases[{i}].lr.schedule: {lr.schedule!r} is not one of {list(SCHEDULES)} "
                f"(phase {phase.name})"
            )
        if not (
            lr.peak > 0 and lr.final >= 0 and lr.warmup_tokens >= 0 and 0 <= lr.decay_fraction <= 1
        ):
            raise ConfigError(
                f"{where}.lr: need peak > 0, final >= 0, warmup_tokens >= 0, 0 <= decay_fraction <= 1"
            )
    return curriculum


def validate_sequence(spec: SequenceSpec, where: str) -> None:
    if spec.mode == "concat":
        if spec.lengths:
            raise ConfigError(
                f"{where}.lengths: only mode: decomposed reads lengths; set the mode or drop them"
            )
        return
    if (
        not spec.lengths
        or any(n < 2 or n & (n - 1) or w < 0 for n, w in spec.lengths.items())
        or sum(spec.lengths.values()) <= 0
    ):
        raise ConfigError(
            f"{where}.lengths: give piece lengths that are powers of 2 with token shares >= 0, "
            f"e.g. {{64: 1, 128: 1, 256: 1}}; got {spec.lengths}"
        )
    if spec.cycles < 1:
        raise ConfigError(f"{where}.cycles: must be >= 1, got {spec.cycles}")


def validate_metadata(spec: MetadataSpec, where: str) -> None:
    try:
        names = {
            name for _, name, _, _ in string.Formatter().parse(spec.template) if name is not None
        }
    except ValueError as err:
        raise ConfigError(
            f"{where}.template: {err}; write fields as {{source}}, literal braces as {{{{ }}}}"
        ) from None
    unknown = sorted(names - set(METADATA_FIELDS))
    if not spec.template or unknown:
        raise ConfigError(
            f"{where}.template: name only the fields {list(METADATA_FIELDS)}, e.g. "
            f'"{{source}} {{domain}}\\n\\n"; got {spec.template!r}'
        )
    if not 0 < spec.until <= 1:
        raise ConfigError(
            f"{where}.until: the share of the phase with prefixes must be in (0, 1], got {spec.until}"
        )


def load_curriculum(path: str | Path) -> Curriculum:
    data = load_yaml(path)
    try:
        return validate(from_mapping(Curriculum, data))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def write_curriculum(curriculum: Curriculum, path: str | Path) -> None:
    validate(curriculum)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, yaml.safe_dump(to_mapping(curriculum), sort_keys=False).encode())
