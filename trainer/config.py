"""The trainer's config: the ``train:`` section of a recipe (loaded with ``core.config``)."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from pathlib import Path

from core.config import apply_overrides, from_mapping, load_yaml
from core.errors import ConfigError


@dataclasses.dataclass
class ModelConfig:
    preset: str = "tiny"  # tiny | small | base | 125m | 350m (see trainer/model.py); sets the size
    hidden: int = 0  # the one size knob: 0 = the preset's width; layers, heads, FFN derive from it
    seq_len: int = 256
    attention: str = "sdpa"  # transformers attn_implementation: sdpa | eager | flash_attention_2


@dataclasses.dataclass
class TokenizerConfig:
    path: str = ""  # a local tokenizer directory or tokenizer.json; empty = train a byte-level BPE
    eos: str = ""  # the token that ends every document; empty = the tokenizer's own (trainer/data/tokenizer.py)
    vocab_size: int = 4096
    sample_chars: int = 20_000_000  # characters of shard text the BPE is trained on


@dataclasses.dataclass
class DataConfig:
    val_fraction: float = 0.05  # documents held out per domain, chosen by a hash of their id
    max_epochs: float = 4.0  # repetition guard: a bucket is never drawn more often than this
    tokenize_workers: int = 2
    min_piece: int = 32  # shortest piece tokenize cuts documents into, rounded down to a power of 2 (sequence.mode: decomposed)


@dataclasses.dataclass
class OptimConfig:
    micro_batch: int = 16  # sequences per forward pass and process
    grad_accum: int = 1
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0


@dataclasses.dataclass
class EvalConfig:
    every_tokens: int = 0  # 0 = only at `at_tokens` and at the end of each phase
    at_tokens: list[int] = dataclasses.field(
        default_factory=list
    )  # run-wide token counts (0 = before training)
    val_sequences: int = 16  # fixed validation sequences per domain
    # >0: end the run (final/ is the model at that evaluation) once its general loss has risen this
    # much above the first evaluation and keeps climbing (trainer/early_stop.py); 0 = never.
    stop_rise: float = 0.0
    tensorboard: bool = True  # also write TensorBoard events when tensorboard is installed


@dataclasses.dataclass
class CheckpointConfig:
    every_tokens: int = 0  # 0 = only at the end of each phase
    keep: int = 2  # newest checkpoints kept on disk
    average_last: int = 0  # >1: final/ averages the weights of the phase's last N checkpoints


@dataclasses.dataclass
class TrainConfig:
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    precision: typing.Literal["fp32", "bf16"] = "fp32"
    compile: bool = False
    threads: int = 0  # torch CPU threads; 0 = torch's default
    stop_after_steps: int = 0  # >0: checkpoint and exit after this many steps (preemptible jobs)
    log_every_steps: int = 10
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)


def load_train_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """The `train:` section of a recipe (other sections ignored); overrides are relative to it."""
    data = load_yaml(path) if path else {}
    section = data.get("train") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: 'train' must be a mapping of trainer keys")
    return from_mapping(TrainConfig, apply_overrides(section, list(overrides)), "train")
