"""The training loop: ``train(config, curriculum, tokens_dir, out_dir) -> Path`` (the final model dir).

Runs the curriculum's phases in order on CPU or GPU, alone or under ``torchrun`` (DDP; gloo on
CPU, NCCL on GPU). Each phase builds its sample index (trainer.data), starts a fresh AdamW, and
sets the LR from tokens seen in the phase (trainer.schedule). Outputs under ``out_dir``:

- ``metrics.jsonl``: training lines (phase, step, tokens, lr, train_loss, tokens_per_s,
  loader_share) every ``log_every_steps``; eval lines add ``val`` (loss per domain) and
  ``general_loss``; one ``mixture`` line per phase with planned and realized shares and chosen_by.
- ``checkpoints/step-N/``: HF model (safetensors) + ``trainer_state.pt`` (optimizer, loader
  cursor, RNG, counters; read with ``weights_only=True``); ``checkpoints/latest`` names the newest.
  A run started again on the same ``out_dir`` resumes from it and repeats exactly the batches and
  losses an uninterrupted run would have had.
- ``final/``: HF model dir and tokenizer, loadable by ``AutoModelForCausalLM.from_pretrained``;
  the average of the last phase's last N checkpoints when ``checkpoint.average_last`` is N > 1.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

from trainer.config import TrainConfig, to_mapping
from trainer.curriculum import Curriculum, Phase
from trainer.data import PhaseLoader, build_index, phase_buckets, realized_shares, validation_batches
from trainer.model import build_model
from trainer.schedule import lr_at
from trainer.tokenize import hf_tokenizer
from trainer.tokens import atomic_write


class Run:
    """Process-level facts: device, DDP rank and world, precision context."""

    def __init__(self, config: TrainConfig):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
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
            kept = [line for line in whole if line and json.loads(line).get("step", 0) <= resumed_step]
        atomic_write(self.path, "".join(line + "\n" for line in kept).encode())
        if config.eval.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                SummaryWriter = None
            self.board = SummaryWriter(str(out_dir / "tensorboard")) if SummaryWriter else None

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


def raw_model(model):
    return getattr(model, "module", model)


def token_loss(model, tokens: torch.Tensor, device_type: str, bf16: bool) -> torch.Tensor:
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=tokens[:, :-1]).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))


def batch_loss(model, tokens: torch.Tensor, run: Run) -> torch.Tensor:
    return run.loss(model, tokens.to(run.device, non_blocking=True), run.device.type, run.bf16)


@torch.no_grad()
def evaluate(model, val: dict[str, torch.Tensor], batch: int, run: Run, general_domain: str) -> dict:
    model.eval()
    losses = {domain: float(torch.stack([batch_loss(model, seqs[i:i + batch], run) * len(seqs[i:i + batch])
                                         for i in range(0, len(seqs), batch)]).sum() / len(seqs))
              for domain, seqs in val.items()}
    model.train()
    return {"val": losses, "general_loss": losses.get(general_domain)}


def save_checkpoint(out_dir: Path, model, optimizer, state: dict, keep: int) -> Path:
    ckpt_root = out_dir / "checkpoints"
    path = ckpt_root / f"step-{state['step']:08d}"
    tmp = ckpt_root / f".tmp-{path.name}"
    for unfinished in ckpt_root.glob(".tmp-step-*"):  # left by killed runs; each is a whole model's size
        shutil.rmtree(unfinished)
    try:
        raw_model(model).save_pretrained(tmp, safe_serialization=True)
        torch.save(dict(state, optimizer=optimizer.state_dict(), rng=torch.get_rng_state(),
                        cuda_rng=torch.cuda.get_rng_state() if torch.cuda.is_available() else torch.zeros(0)),
                   tmp / "trainer_state.pt")
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # on a full disk, give the space back before the error surfaces
        raise
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    atomic_write(ckpt_root / "latest", path.name.encode())
    for old in sorted(ckpt_root.glob("step-*"))[:-max(keep, 1)]:
        shutil.rmtree(old)
    return path


def latest_checkpoint(out_dir: Path) -> Path | None:
    pointer = out_dir / "checkpoints" / "latest"
    return out_dir / "checkpoints" / pointer.read_text().strip() if pointer.is_file() else None


def init_model(phase: Phase, previous, config: TrainConfig, vocab_size: int):
    if phase.init == "scratch" or (phase.init == "previous" and previous is None):
        return build_model(config.model, vocab_size)
    if phase.init == "previous":
        return raw_model(previous)
    return AutoModelForCausalLM.from_pretrained(phase.init, attn_implementation=config.model.attention)


def average_checkpoints(paths: list[Path], attention: str):
    models = [AutoModelForCausalLM.from_pretrained(p, attn_implementation=attention) for p in paths]
    averaged = models[0]
    with torch.no_grad():
        for name, tensor in averaged.state_dict().items():
            tensor.copy_(torch.stack([m.state_dict()[name].float() for m in models]).mean(0).to(tensor.dtype))
    return averaged


def train(config: TrainConfig, curriculum: Curriculum, tokens_dir: str | Path, out_dir: str | Path) -> Path | None:
    """Train every phase; returns ``out_dir/final``, or None when ``stop_after_steps`` stopped the run early."""
    tokens_dir, out_dir = Path(tokens_dir), Path(out_dir)
    run = Run(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab_size = Tokenizer.from_file(str(tokens_dir / "tokenizer.json")).get_vocab_size()
    resume_path = latest_checkpoint(out_dir)
    state = torch.load(resume_path / "trainer_state.pt", weights_only=True) if resume_path else \
        {"phase": 0, "cursor": 0, "step": 0, "tokens": 0, "checkpoints": []}
    torch.manual_seed(config.seed)
    metrics = Metrics(out_dir, state["step"], config, run.main)
    if run.main and not resume_path:
        atomic_write(out_dir / "train_config.json", json.dumps(to_mapping(config), indent=1).encode())
    # The general domain is always evaluated: a pilot at ratio 1 trains on none of it yet is judged by it.
    domains = sorted({d for p in curriculum.phases for d in p.mixture} | {curriculum.general_domain})
    seq_len, micro = config.model.seq_len, config.optim.micro_batch
    val = validation_batches(tokens_dir, domains, seq_len, config.eval.val_sequences)
    global_batch = micro * config.optim.grad_accum * run.world
    model = None
    for phase_id, phase in enumerate(curriculum.phases):
        if phase_id < state["phase"]:
            continue
        resuming = resume_path is not None and phase_id == state["phase"] and state["cursor"] > 0
        if resuming:
            model = AutoModelForCausalLM.from_pretrained(resume_path, attn_implementation=config.model.attention)
        else:
            model = init_model(phase, model, config, vocab_size)
            state.update(cursor=0, checkpoints=[])
        model = model.to(run.device)
        model.train()
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=phase.lr.peak, betas=(config.optim.beta1, config.optim.beta2), eps=config.optim.eps,
            fused=run.device.type == "cuda")
        if resuming:
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"])
            if run.device.type == "cuda" and len(state["cuda_rng"]):
                torch.cuda.set_rng_state(state["cuda_rng"])
        step_model = model
        if run.world > 1:
            step_model = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[run.device.index] if run.device.type == "cuda" else None)
        buckets = phase_buckets(tokens_dir, phase)
        steps = math.ceil(phase.tokens / (global_batch * seq_len))
        index = build_index(phase, buckets, steps * global_batch, seq_len, config.seed, config.data.max_epochs,
                            out_dir / "cache")
        loader = PhaseLoader(index, buckets, seq_len)
        if not resuming:
            metrics.write({"phase": phase.name, "step": state["step"], "tokens": state["tokens"], "event": "mixture",
                           "planned": {d: m.share for d, m in phase.mixture.items()},
                           "realized": realized_shares(index, buckets),
                           "chosen_by": {d: m.chosen_by for d, m in phase.mixture.items()}})
        start_lr = curriculum.phases[phase_id - 1].lr.final if phase.lr.rewarm and phase_id else 0.0
        stopped = run_phase(phase, phase_id, step_model, optimizer, loader, val, state, config, run, metrics,
                            out_dir, start_lr, curriculum.general_domain)
        if stopped:
            return None
        state.update(phase=phase_id + 1, cursor=0)
    return save_final(model, state, config, run, tokens_dir, out_dir)


def run_phase(phase, phase_id, model, optimizer, loader, val, state, config, run, metrics, out_dir, start_lr,
              general_domain) -> bool:
    """Train one phase from ``state['cursor']``; True when ``stop_after_steps`` ended the run."""
    seq_len, micro, accum = config.model.seq_len, config.optim.micro_batch, config.optim.grad_accum
    global_batch = micro * accum * run.world
    eval_points = sorted(config.eval.at_tokens)

    def due(every: int, before: int, after: int, points=()) -> bool:
        crossed = any(before < p <= after for p in points)
        return crossed or (every > 0 and before // every != after // every)

    def checkpoint():
        keep = max(config.checkpoint.keep, config.checkpoint.average_last)
        state["checkpoints"] = (state["checkpoints"] + [f"step-{state['step']:08d}"])[-keep:]
        if run.main:
            save_checkpoint(out_dir, model, optimizer, state, keep)
        run.barrier()

    def log_eval():
        if run.main:
            metrics.write({"phase": phase.name, "step": state["step"], "tokens": state["tokens"],
                           **evaluate(raw_model(model), val, micro, run, general_domain)})

    if state["tokens"] == 0 and 0 in eval_points:
        log_eval()
    timer, data_time, window_tokens, losses = time.perf_counter(), 0.0, 0, []
    while state["cursor"] + global_batch <= len(loader):
        phase_tokens = state["cursor"] * seq_len
        lr = lr_at(phase.lr, phase_tokens, phase.tokens, start_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        step_loss = torch.zeros((), device=run.device)
        for m in range(accum):
            t0 = time.perf_counter()
            tokens = loader.batch(state["cursor"] + (m * run.world + run.rank) * micro, micro)
            data_time += time.perf_counter() - t0
            sync = m == accum - 1 or run.world == 1
            context = model.no_sync() if not sync and hasattr(model, "no_sync") else contextlib.nullcontext()
            with context:
                loss = batch_loss(model, tokens, run) / accum
                loss.backward()
            step_loss += loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        before = state["tokens"]
        state["cursor"] += global_batch
        state["step"] += 1
        state["tokens"] += global_batch * seq_len
        window_tokens += global_batch * seq_len
        losses.append(step_loss)
        if state["step"] % config.log_every_steps == 0:
            if run.world > 1:
                torch.distributed.all_reduce(step_loss, op=torch.distributed.ReduceOp.AVG)
            elapsed = time.perf_counter() - timer
            metrics.write({"phase": phase.name, "step": state["step"], "tokens": state["tokens"], "lr": lr,
                           "train_loss": float(torch.stack(losses).mean()), "tokens_per_s": window_tokens / elapsed,
                           "loader_share": data_time / elapsed})
            timer, data_time, window_tokens, losses = time.perf_counter(), 0.0, 0, []
        last = state["cursor"] + global_batch > len(loader)
        if last or due(config.eval.every_tokens, before, state["tokens"], eval_points):
            log_eval()
        stop = config.stop_after_steps and state["step"] >= config.stop_after_steps
        if last or stop or due(config.checkpoint.every_tokens, before, state["tokens"]):
            checkpoint()
        if stop and not last:
            return True
    return False


def save_final(model, state: dict, config: TrainConfig, run: Run, tokens_dir: Path, out_dir: Path) -> Path:
    final = out_dir / "final"
    if run.main:
        names = state["checkpoints"][-config.checkpoint.average_last:] if config.checkpoint.average_last > 1 else []
        source = average_checkpoints([out_dir / "checkpoints" / n for n in names], config.model.attention) \
            if len(names) > 1 else raw_model(model)
        # Built aside and renamed: `critmix plan` takes final/config.json as the mark of a finished model.
        tmp = out_dir / ".tmp-final"
        shutil.rmtree(tmp, ignore_errors=True)
        source.save_pretrained(tmp, safe_serialization=True)
        hf_tokenizer(tokens_dir).save_pretrained(tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    run.barrier()
    return final
