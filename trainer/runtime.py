"""Process-level facts (device, DDP rank, precision) and the loss and evaluation computed with them."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from trainer.config import TrainConfig
from trainer.data.loader import IGNORE, split


class Run:
    """Process-level facts: device, DDP rank and world, precision context."""

    def __init__(self, config: TrainConfig):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        use_cuda = config.device == "cuda" or (
            config.device == "auto" and torch.cuda.is_available()
        )
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = torch.device(f"cuda:{local}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(self.device)
            torch.backends.cuda.matmul.allow_tf32 = True
        if config.threads:
            torch.set_num_threads(config.threads)
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
        self.bf16 = config.precision == "bf16"
        # Compiling the loss with the forward pass lets inductor fuse the fp32 upcast of the logits
        # into the cross-entropy instead of writing them out (a large share of the step at vocab 50k).
        self.loss = torch.compile(token_loss) if config.compile else token_loss

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.world > 1:
            torch.distributed.barrier()


def token_loss(
    model, inputs: torch.Tensor, targets: torch.Tensor, device_type: str, bf16: bool
) -> torch.Tensor:
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=inputs).logits
    return F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE
    )


def batch_loss(model, batch: tuple[torch.Tensor, torch.Tensor], run: Run) -> torch.Tensor:
    inputs, targets = (t.to(run.device, non_blocking=True) for t in batch)
    return run.loss(model, inputs, targets, run.device.type, run.bf16)


@torch.no_grad()
def evaluate(model, val: dict[str, np.ndarray], batch: int, run: Run, general_domain: str) -> dict:
    model.eval()
    losses = {
        domain: float(
            torch.stack(
                [
                    batch_loss(model, split(seqs[i : i + batch]), run) * len(seqs[i : i + batch])
                    for i in range(0, len(seqs), batch)
                ]
            ).sum()
            / len(seqs)
        )
        for domain, seqs in val.items()
    }
    model.train()
    return {"val": losses, "general_loss": losses.get(general_domain)}
