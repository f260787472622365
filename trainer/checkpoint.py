"""Checkpoints: ``checkpoints/step-N/`` holds the HF model (safetensors) and ``trainer_state.pt``.

``trainer_state.pt`` (read with ``weights_only=True``) is the fields of ``TrainState``, plus
``format``, ``optimizer`` (AdamW's state dict), ``rng`` and ``cuda_rng``. Nothing else about the
data is saved: a phase's sample index is rebuilt deterministically and ``phase_step`` is its cursor.
``checkpoints/latest`` names the newest whole checkpoint.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from core.errors import ConfigError
from core.files import atomic_dir, atomic_write_bytes

FORMAT = 2  # 1: before TrainState (a `cursor` counted samples, not steps)


@dataclasses.dataclass
class TrainState:
    phase: int = 0  # the curriculum phase in progress
    phase_step: int = 0  # optimizer steps done in that phase: the loader's cursor
    step: int = 0  # optimizer steps over the run
    tokens: int = 0  # tokens over the run
    checkpoints: list[str] = dataclasses.field(
        default_factory=list
    )  # this phase's checkpoints, oldest first


@dataclasses.dataclass
class Checkpoint:
    path: Path
    state: TrainState
    optimizer: dict
    rng: torch.Tensor
    cuda_rng: torch.Tensor


def raw_model(model):
    return getattr(model, "module", model)


def save_checkpoint(out_dir: Path, model, optimizer, state: TrainState, keep: int) -> Path:
    ckpt_root = out_dir / "checkpoints"
    path = ckpt_root / f"step-{state.step:08d}"
    for unfinished in ckpt_root.glob(
        ".tmp-step-*"
    ):  # left by killed runs; each is a whole model's size
        shutil.rmtree(unfinished)
    with atomic_dir(path) as tmp:
        raw_model(model).save_pretrained(tmp, safe_serialization=True)
        torch.save(
            dict(
                dataclasses.asdict(state),
                format=FORMAT,
                optimizer=optimizer.state_dict(),
                rng=torch.get_rng_state(),
                cuda_rng=torch.cuda.get_rng_state()
                if torch.cuda.is_available()
                else torch.zeros(0),
            ),
            tmp / "trainer_state.pt",
        )
    atomic_write_bytes(ckpt_root / "latest", path.name.encode())
    for old in sorted(ckpt_root.glob("step-*"))[: -max(keep, 1)]:
        shutil.rmtree(old)
    return path


def latest_checkpoint(out_dir: Path) -> Path | None:
    pointer = out_dir / "checkpoints" / "latest"
    return out_dir / "checkpoints" / pointer.read_text().strip() if pointer.is_file() else None


def load_checkpoint(path: Path) -> Checkpoint:
    saved = torch.load(path / "trainer_state.pt", weights_only=True)
    if saved.get("format") != FORMAT:
        raise ConfigError(
            f"{path} was written by an older trainer (checkpoint format {saved.get('format', 1)}, "
            f"this one reads {FORMAT}); finish the run with that version or train into a new --out"
        )
    state = TrainState(**{f.name: saved[f.name] for f in dataclasses.fields(TrainState)})
    return Checkpoint(path, state, saved["optimizer"], saved["rng"], saved["cuda_rng"])


def average_checkpoints(paths: list[Path], attention: str):
    models = [AutoModelForCausalLM.from_pretrained(p, attn_implementation=attention) for p in paths]
    averaged = models[0]
    with torch.no_grad():
        for name, tensor in averaged.state_dict().items():
            tensor.copy_(
                torch.stack([m.state_dict()[name].float() for m in models]).mean(0).to(tensor.dtype)
            )
    return averaged
