"""``metrics.jsonl`` (and TensorBoard when installed): the training and evaluation lines of a run."""

from __future__ import annotations

import json
from pathlib import Path

from core.files import atomic_write_bytes
from trainer.config import TrainConfig


class Metrics:
    def __init__(self, out_dir: Path, resumed_step: int, config: TrainConfig, main: bool):
        self.path = out_dir / "metrics.jsonl"
        self.main = main
        self.board = None
        if not main:
            return
        kept = []
        if self.path.is_file():  # drop lines a killed run wrote after its last checkpoint
            # and a last line cut short (no newline yet) by a kill or a full disk.
            whole = self.path.read_text().split("\n")[:-1]
            kept = [
                line for line in whole if line and json.loads(line).get("step", 0) <= resumed_step
            ]
        atomic_write_bytes(self.path, "".join(line + "\n" for line in kept).encode())
        if config.eval.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                pass
            else:
                self.board = SummaryWriter(str(out_dir / "tensorboard"))

    def write(self, record: dict) -> None:
        if not self.main:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            for key in ("train_loss", "lr", "tokens_per_s"):
                if key in record:
                    self.board.add_scalar(key, record[key], record["tokens"])
            for domain, loss in record.get("val", {}).items():
                self.board.add_scalar(f"val/{domain}", loss, record["tokens"])
