"""The training loop: ``train(config, curriculum, tokens_dir, out_dir) -> Path`` (the final model dir).

Runs the curriculum's phases in order on CPU or GPU, alone or under ``torchrun`` (DDP; gloo on
CPU, NCCL on GPU). Each phase builds its sample index (trainer.data.index), starts a fresh AdamW, and
sets the LR from tokens seen in the phase (trainer.schedule). Outputs under ``out_dir``:

- ``metrics.jsonl``: training lines (phase, step, tokens, lr, train_loss, tokens_per_s,
  loader_share) every ``log_every_steps``; eval lines add ``val`` (loss per domain) and
  ``general_loss``; one ``mixture`` line per phase with planned and realized domain shares, the
  realized token share per sequence length, the sequence and metadata settings, and chosen_by.
  Every step has the same tokens (``model.seq_len`` x the global batch) in both sequence modes.
- ``checkpoints/step-N/``: see trainer/checkpoint.py (``TrainState`` is what resuming restores).
  A run started again on the same ``out_dir`` resumes from it and repeats exactly the batches and
  losses an uninterrupted run would have had.
- ``final/``: HF model dir and tokenizer, loadable by ``AutoModelForCausalLM.from_pretrained``;
  the average of the last phase's last N checkpoints when ``checkpoint.average_last`` is N > 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import threading
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from core.config import to_mapping
from core.files import atomic_dir, atomic_write_bytes
from trainer.checkpoint import (
    Checkpoint,
    TrainState,
    average_checkpoints,
    latest_checkpoint,
    load_checkpoint,
    raw_model,
    save_checkpoint,
)
from trainer.config import TrainConfig
from trainer.curriculum import Curriculum, Phase
from trainer.data.index import build_index
from trainer.data.loader import (
    PhaseLoader,
    Sampling,
    phase_buckets,
    realized_lengths,
    realized_shares,
    validation_batches,
)
from trainer.data.meco import Prefixer
from trainer.data.tokenize import hf_tokenizer
from trainer.data.tokenizer import load_tokenizer, tokens_eos
from trainer.early_stop import left_tolerance
from trainer.metrics import Metrics
from trainer.model import build_model
from trainer.runtime import Run, batch_loss, evaluate
from trainer.schedule import lr_at

# Set on SIGTERM (trainer/__main__.py): the run checkpoints after the step in progress and stops there.
STOP_REQUESTED = threading.Event()


def init_model(phase: Phase, previous, config: TrainConfig, vocab_size: int, eos_id: int):
    if phase.init == "scratch" or (phase.init == "previous" and previous is None):
        return build_model(config.model, vocab_size, eos_id)
    if phase.init == "previous":
        return raw_model(previous)
    return AutoModelForCausalLM.from_pretrained(
        phase.init, attn_implementation=config.model.attention
    )


@dataclasses.dataclass
class PhaseRun:
    """What training one phase needs besides the run-wide trainer."""

    phase: Phase
    model: torch.nn.Module  # wrapped in DistributedDataParallel when there are several processes
    optimizer: torch.optim.Optimizer
    loader: PhaseLoader
    start_lr: float  # where the warmup starts: 0, or the previous phase's final LR with `rewarm`


def previous_general_losses(out_dir: Path) -> list[tuple[int, float]]:
    """(tokens, general loss) of the evaluations a resumed run logged before it stopped."""
    path = out_dir / "metrics.jsonl"
    records = (json.loads(line) for line in path.read_text().splitlines()) if path.exists() else ()
    return [(r["tokens"], r["general_loss"]) for r in records if r.get("val")]


class Trainer:
    """Trains a curriculum's phases into ``out_dir``, resuming from its latest checkpoint when there is one."""

    def __init__(
        self, config: TrainConfig, curriculum: Curriculum, tokens_dir: Path, out_dir: Path
    ):
        self.config, self.curriculum, self.tokens_dir, self.out_dir = (
            config,
            curriculum,
            tokens_dir,
            out_dir,
        )
        self.run = Run(config)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.tokenizer = load_tokenizer(tokens_dir / "tokenizer.json")
        self.eos = tokens_eos(tokens_dir, self.tokenizer)
        latest = latest_checkpoint(out_dir)
        self.resume = load_checkpoint(latest) if latest else None
        self.state = self.resume.state if self.resume else TrainState()
        torch.manual_seed(config.seed)
        self.metrics = Metrics(out_dir, self.state.step, config, self.run.main)
        # (tokens, general loss) of every evaluation so far, a resumed run's from its metrics
        self.general_losses = previous_general_losses(out_dir) if self.resume else []
        self.stopped_early = False
        if self.run.main and not self.resume:
            atomic_write_bytes(
                out_dir / "train_config.json", json.dumps(to_mapping(config), indent=1).encode()
            )
        # The general domain is always evaluated: a pilot at ratio 1 trains on none of it yet is judged by it.
        domains = sorted(
            {d for p in curriculum.phases for d in p.mixture} | {curriculum.general_domain}
        )
        self.val = validation_batches(
            tokens_dir, domains, config.model.seq_len, config.eval.val_sequences
        )
        optim = config.optim
        self.sampling = Sampling(
            config.model.seq_len,
            optim.micro_batch * optim.grad_accum * self.run.world,
            config.seed,
            config.data.max_epochs,
        )

    def train(self) -> Path | None:
        model = None
        for phase_id, phase in enumerate(self.curriculum.phases):
            if phase_id < self.state.phase:
                continue
            resume = (
                self.resume if phase_id == self.state.phase and self.state.phase_step > 0 else None
            )
            if resume is not None:
                model = AutoModelForCausalLM.from_pretrained(
                    resume.path, attn_implementation=self.config.model.attention
                )
            else:
                model = init_model(
                    phase, model, self.config, self.tokenizer.get_vocab_size(), self.eos.id
                )
                self.state.phase_step, self.state.checkpoints = 0, []
            # transformers types PreTrainedModel.to with @wraps(torch.nn.Module.to), which hides `self`
            job = self.start_phase(phase_id, model.to(self.run.device), resume)  # type: ignore[arg-type]
            if self.run_phase(job):
                return None
            if self.stopped_early:
                break
            self.state.phase, self.state.phase_step = phase_id + 1, 0
        return self.save_final(model)

    def start_phase(self, phase_id: int, model, resume: Checkpoint | None) -> PhaseRun:
        config, phase = self.config, self.curriculum.phases[phase_id]
        model.train()
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": config.optim.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=phase.lr.peak,
            betas=(config.optim.beta1, config.optim.beta2),
            eps=config.optim.eps,
            fused=self.run.device.type == "cuda",
        )
        if resume is not None:
            optimizer.load_state_dict(resume.optimizer)
            torch.set_rng_state(resume.rng)
            if self.run.device.type == "cuda" and len(resume.cuda_rng):
                torch.cuda.set_rng_state(resume.cuda_rng)
        if self.run.world > 1:
            model = torch.nn.parallel.DistributedDataParallel(
                model,
                device_ids=[self.run.device.index] if self.run.device.type == "cuda" else None,
            )
        buckets = phase_buckets(self.tokens_dir, phase)
        steps = math.ceil(phase.tokens / self.sampling.step_tokens)
        index = build_index(phase, buckets, steps, self.sampling, self.out_dir / "cache")
        meco = phase.metadata
        loader = PhaseLoader(
            index,
            buckets,
            Prefixer(meco.template, self.tokenizer) if meco else None,
            round(meco.until * len(index)) if meco else 0,
        )
        if resume is None:
            self.log(
                {
                    "event": "mixture",
                    "planned": {d: m.share for d, m in phase.mixture.items()},
                    "realized": realized_shares(index.rows, buckets),
                    "lengths": realized_lengths(index.rows),
                    "sequence": to_mapping(phase.sequence),
                    "metadata": to_mapping(phase.metadata),
                    "prefixed_steps": loader.prefix_steps,
                    "chosen_by": {d: m.chosen_by for d, m in phase.mixture.items()},
                },
                phase,
            )
        start_lr = (
            self.curriculum.phases[phase_id - 1].lr.final if phase.lr.rewarm and phase_id else 0.0
        )
        return PhaseRun(phase, model, optimizer, loader, start_lr)

    def log(self, record: dict, phase: Phase) -> None:
        self.metrics.write(
            {"phase": phase.name, "step": self.state.step, "tokens": self.state.tokens, **record}
        )

    def log_eval(self, job: PhaseRun) -> None:
        if self.run.main:
            record = evaluate(
                raw_model(job.model),
                self.val,
                self.config.optim.micro_batch,
                self.run,
                self.curriculum.general_domain,
            )
            self.log(record, job.phase)
            self.general_losses.append((self.state.tokens, record["general_loss"]))

    def left_tolerance(self) -> bool:
        """The early-stop rule (``eval.stop_rise``) on this run's evaluations so far."""
        rise = self.config.eval.stop_rise
        if rise <= 0 or not self.run.main:
            return False
        tokens, losses = zip(*self.general_losses) if self.general_losses else ((), ())
        run_tokens = sum(p.tokens for p in self.curriculum.phases)
        return left_tolerance(list(tokens), list(losses), rise, run_tokens)

    def checkpoint(self, job: PhaseRun) -> None:
        keep = max(self.config.checkpoint.keep, self.config.checkpoint.average_last)
        self.state.checkpoints = (self.state.checkpoints + [f"step-{self.state.step:08d}"])[-keep:]
        if self.run.main:
            save_checkpoint(self.out_dir, job.model, job.optimizer, self.state, keep)
        self.run.barrier()

    def step(self, job: PhaseRun, lr: float) -> tuple[torch.Tensor, float]:
        """One optimizer step at the state's phase step; returns (loss, seconds spent loading data)."""
        run, accum, state = self.run, self.config.optim.grad_accum, self.state
        for group in job.optimizer.param_groups:
            group["lr"] = lr
        step_loss, data_time = torch.zeros((), device=run.device), 0.0
        for m in range(accum):
            t0 = time.perf_counter()
            batch = job.loader.micro_batch(
                state.phase_step, m * run.world + run.rank, accum * run.world
            )
            data_time += time.perf_counter() - t0
            sync = m == accum - 1 or run.world == 1
            context: contextlib.AbstractContextManager = contextlib.nullcontext()
            if not sync and isinstance(job.model, torch.nn.parallel.DistributedDataParallel):
                context = job.model.no_sync()
            with context:
                loss = batch_loss(job.model, batch, run) / accum
                loss.backward()
            step_loss += loss.detach()
        torch.nn.utils.clip_grad_norm_(job.model.parameters(), self.config.optim.grad_clip)
        job.optimizer.step()
        job.optimizer.zero_grad(set_to_none=True)
        return step_loss, data_time

    def run_phase(self, job: PhaseRun) -> bool:
        """Train one phase from the state's phase step; True when ``stop_after_steps`` ended the run."""
        config, state, step_tokens = self.config, self.state, self.sampling.step_tokens
        eval_points = sorted(config.eval.at_tokens)

        def due(every: int, before: int, after: int, points=()) -> bool:
            crossed = any(before < p <= after for p in points)
            return crossed or (every > 0 and before // every != after // every)

        if state.tokens == 0 and 0 in eval_points:
            self.log_eval(job)
        timer, data_time, window_tokens, losses = time.perf_counter(), 0.0, 0, []
        while state.phase_step < len(job.loader):
            lr = lr_at(job.phase.lr, state.phase_step * step_tokens, job.phase.tokens, job.start_lr)
            step_loss, loading = self.step(job, lr)
            before = state.tokens
            state.phase_step += 1
            state.step += 1
            state.tokens += step_tokens
            data_time, window_tokens = data_time + loading, window_tokens + step_tokens
            losses.append(step_loss)
            if state.step % config.log_every_steps == 0:
                if self.run.world > 1:
                    torch.distributed.all_reduce(step_loss, op=torch.distributed.ReduceOp.AVG)
                elapsed = time.perf_counter() - timer
                self.log(
                    {
                        "lr": lr,
                        "train_loss": float(torch.stack(losses).mean()),
                        "tokens_per_s": window_tokens / elapsed,
                        "loader_share": data_time / elapsed,
                    },
                    job.phase,
                )
                timer, data_time, window_tokens, losses = time.perf_counter(), 0.0, 0, []
            last = state.phase_step == len(job.loader)
            if last or due(config.eval.every_tokens, before, state.tokens, eval_points):
                self.log_eval(job)
                if not last and self.left_tolerance():
                    self.log({"event": "early_stop", "stop_rise": config.eval.stop_rise}, job.phase)
                    self.stopped_early = True
                    return False
            stop = (
                config.stop_after_steps and state.step >= config.stop_after_steps
            ) or STOP_REQUESTED.is_set()
            if last or stop or due(config.checkpoint.every_tokens, before, state.tokens):
                self.checkpoint(job)
            if stop and not last:
                return True
        return False

    def save_final(self, model) -> Path:
        config, out_dir, final = self.config, self.out_dir, self.out_dir / "final"
        if self.run.main:
            names = (
                self.state.checkpoints[-config.checkpoint.average_last :]
                if config.checkpoint.average_last > 1
                else []
            )
            source = (
                average_checkpoints(
                    [out_dir / "checkpoints" / n for n in names], config.model.attention
                )
                if len(names) > 1
                else raw_model(model)
            )
            # Built aside and renamed: `critmix plan` takes final/config.json as the mark of a finished model.
            with atomic_dir(final) as tmp:
                source.save_pretrained(tmp, safe_serialization=True)
                hf_tokenizer(self.tokens_dir).save_pretrained(tmp)
        self.run.barrier()
        return final


def train(
    config: TrainConfig, curriculum: Curriculum, tokens_dir: str | Path, out_dir: str | Path
) -> Path | None:
    """Train every phase; returns ``out_dir/final``, or None when ``stop_after_steps`` stopped the run early."""
    return Trainer(config, curriculum, Path(tokens_dir), Path(out_dir)).train()
