"""What every export format shares: tokenizing the run's Parquet shards on the executor
(pipeline/export/tokenize.py) into file sets (one per domain x bucket for training, one per domain
for the held-out validation documents), each phase's per-file weights from the trainer's own
``bucket_weights``, the manifest, and the all-or-nothing write.

Everything is written under ``.<out>.partial`` next to ``--out``: the tasks' parts in ``work/`` (kept
for a rerun while its key, ``work/key.json``, matches: a killed export resumes at the task), the
format's files in ``export/``, which is renamed into place at the end, so an export that fails or is
killed leaves the previous one (or nothing). Files carry no timestamps: a rerun is byte-identical."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import shutil
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import CritmixError
from core.files import file_sha256
from pipeline.export.files import FileSet, Parts, collect_parts
from pipeline.export.pieces import PieceEncoder
from pipeline.export.tokenize import (
    ExportTokenizer,
    SourceFile,
    TokenizeTask,
    document_counts,
    source_files,
    work_key,
)
from trainer.curriculum import Curriculum, Phase
from trainer.data.loader import bucket_weights
from trainer.data.tokenizer import load_tokenizer


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    run_id: str  # the run's directory: an --out holding another run's export is refused
    tokenizer: ExportTokenizer
    global_batch: int  # the target trainer's sequences per optimizer step
    seq_len: int  # and their length
    max_epochs: float  # train.data.max_epochs, the repetition guard
    val_fraction: (
        float  # train.data.val_fraction: the held-out documents, as the trainer chooses them
    )
    curate: (
        Any  # pipeline.config.CurateConfig: the executor the tokenizing runs on, and its workers
    )
    dtype: str | None = (
        None  # the requested token dtype; None: the format's choice for the vocabulary
    )

    @property
    def step_tokens(self) -> int:
        return self.global_batch * self.seq_len


@dataclasses.dataclass
class PhaseWeights:
    name: str
    tokens: int
    train: list[tuple[Parts, float]]
    valid: list[tuple[Parts, float]]


def token_dtype(writer_class, tokenizer: ExportTokenizer, requested: str | None) -> np.dtype:
    """The format's dtype for the vocabulary, or the requested one if the format stores it and the
    tokenizer's ids fit (a uint16 overflow wraps ids silently: dolma's bug)."""
    if requested is None:
        return writer_class.dtype_for(tokenizer.vocab_size)
    dtype = np.dtype(requested)
    if dtype not in writer_class.dtypes:
        stored = ", ".join(str(d) for d in writer_class.dtypes)
        raise CritmixError(f"--dtype {requested}: {writer_class.format} token files are {stored}")
    if tokenizer.vocab_size - 1 > np.iinfo(dtype).max:
        raise CritmixError(
            f"--dtype {requested}: the tokenizer's {tokenizer.vocab_size:,} token ids do not fit in it "
            f"(at most {np.iinfo(dtype).max + 1:,}); pass a wider --dtype or leave it out"
        )
    return dtype


def phase_weights(
    phase: Phase, sizes: Mapping[FileSet, int], parts: Mapping[FileSet, Parts | None], where: str
) -> PhaseWeights:
    """The trainer's planned share of each train file set (domain share x bucket weight, or x its
    tokens when the mixture names no buckets; ``sizes``); the valid split weights each domain's
    held-out documents by its share. Raises the trainer's one-line error for a bucket that is missing."""
    buckets: dict[str, dict[str, int]] = {}
    for file_set, size in sizes.items():
        if file_set.split == "train":
            buckets.setdefault(file_set.domain, {})[file_set.bucket] = size
    train = [
        (parts[FileSet(domain, key, "train")], weight)
        for domain, key, weight in bucket_weights(phase, buckets, where)
    ]
    valid = [
        (parts[file_set], mix.share)
        for domain, mix in sorted(phase.mixture.items())
        if mix.share > 0 and (file_set := FileSet(domain, "val", "valid")) in parts
    ]
    return PhaseWeights(phase.name, phase.tokens, train, valid)  # type: ignore[arg-type]


def dropped(curriculum: Curriculum, reasons: dict[str, str]) -> list[dict]:
    """What the curriculum asks for that the format cannot express, phase by phase."""
    notes = []
    for phase in curriculum.phases:
        asks = {
            "metadata": phase.metadata is not None,
            "decomposed": phase.sequence.mode == "decomposed",
            "max_epochs": True,
        }
        notes += [
            {"phase": phase.name, "feature": key, "why": reasons[key]}
            for key, asked in asks.items()
            if asked and key in reasons
        ]
    return notes


def check_out(out: Path, run_id: str) -> None:
    manifest = out / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("run") != run_id:
        raise CritmixError(
            f"{out} holds the export of another run; pass another --out or delete it"
        )
    if out.exists() and not manifest.is_file():
        raise CritmixError(
            f"{out} exists and is not a critmix export; pass another --out or delete it"
        )


def replace_dir(staged: Path, out: Path) -> None:
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staged.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def phase_iterations(curriculum: Curriculum, step_tokens: int) -> list[int]:
    """Each phase's optimizer steps at ``step_tokens`` (global batch x sequence length) per step."""
    return [math.ceil(phase.tokens / step_tokens) for phase in curriculum.phases]


def tokenize(
    sources: list[SourceFile], settings: ExportSettings, dtype: np.dtype, work: Path
) -> Path:
    """Run the tokenize tasks not yet complete in ``work``; returns the folder of their parts."""
    from pipeline.executors import EXECUTORS, make_executor
    from pipeline.executors.local import task_processes
    from pipeline.progress import console, run_with_task_progress
    from stages.tasks import Phase as TaskPhase
    from stages.tasks import TaskStep

    if EXECUTORS[settings.curate.executor].writes_job_scripts:
        raise CritmixError(
            f"curate.executor {settings.curate.executor}: critmix export tokenizes here, on the local "
            "or ray executor; set curate.executor to one of them"
        )

    fallback = PieceEncoder(
        load_tokenizer(settings.tokenizer.path), settings.tokenizer.eos_id
    ).fallback
    if fallback:
        console.print(
            f"tokenize: whole documents through the library, about half the speed: the tokenizer's {fallback}"
        )
    key = work_key(sources, settings.tokenizer, str(dtype), settings.val_fraction)
    key_file = work / "key.json"
    if not key_file.is_file() or json.loads(key_file.read_text()) != key:
        shutil.rmtree(work, ignore_errors=True)  # parts of other inputs, or of an older export
        work.mkdir(parents=True)
        key_file.write_text(json.dumps(key))
    task = TokenizeTask(
        sources, settings.tokenizer, str(dtype), settings.val_fraction, work / "parts"
    )
    step = TaskStep(TaskPhase("export-tokenize", task, len(sources)))
    executor = make_executor(settings.curate, [step], work / "logs", len(sources))
    completions = work / "logs/completions"

    def count_done() -> int:
        return len(list(completions.glob("*"))) if completions.is_dir() else 0

    # local: the task processes start here, in the calling thread (see pipeline/executors/local.py)
    held = EXECUTORS[settings.curate.executor].holds_task_processes
    with task_processes(settings.curate.workers) if held else nullcontext():
        run_with_task_progress(executor.run, "tokenize", count_done, len(sources))
    return work / "parts"


def export(
    shards_dir: Path, curriculum: Curriculum, writer_class, out: Path, settings: ExportSettings
) -> dict:
    """Write the export of the Parquet shards ``shards_dir`` for ``curriculum`` to ``out``; returns the
    manifest. Its ``phase_transition_iterations`` are the steps at which each phase after the first starts."""
    out = Path(out).absolute()
    check_out(out, settings.run_id)
    dtype = token_dtype(writer_class, settings.tokenizer, settings.dtype)
    sources = source_files(shards_dir)
    counts = document_counts(sources, settings.val_fraction)
    for phase in curriculum.phases:  # a missing bucket errs before anything is written
        phase_weights(phase, counts, dict.fromkeys(counts), str(shards_dir))
    staged = out.with_name(f".{out.name}.partial")
    parts_dir = tokenize(sources, settings, dtype, staged / "work")
    all_parts = {p.file_set: p for p in collect_parts(parts_dir, sorted(counts), dtype)}
    sizes = {file_set: int(p.lengths().sum()) for file_set, p in all_parts.items()}
    phases = [phase_weights(p, sizes, all_parts, str(shards_dir)) for p in curriculum.phases]
    final = staged / "export"
    shutil.rmtree(final, ignore_errors=True)
    final.mkdir()
    writer = writer_class(settings, dtype)
    domains = sorted({file_set.domain for file_set in counts})
    manifest: dict = {
        "run": settings.run_id,
        "tokenizer": str(settings.tokenizer.path),
        "eos": {"token": settings.tokenizer.eos, "id": settings.tokenizer.eos_id},
        "dtype": str(dtype),
        "files": [],
        "phases": [],
        "dropped": dropped(curriculum, writer.dropped_features),
        "empty": [
            {"domain": d, "bucket": "val", "split": "valid"}
            for d in domains
            if FileSet(d, "val", "valid") not in counts
        ],
    }
    for file_set, parts in all_parts.items():
        entry, written = writer.write_file(parts, final)
        manifest["files"].append(
            dict(
                entry,
                domain=file_set.domain,
                bucket=file_set.bucket,
                split=file_set.split,
                documents=counts[file_set],
                tokens=sizes[file_set],
                sha256={p.name: file_sha256(p) for p in written},
            )
        )
    iterations = phase_iterations(curriculum, settings.step_tokens)
    for weights, steps in zip(phases, iterations):
        config = writer.write_phase(weights, final, out)
        manifest["phases"].append(
            {
                "name": weights.name,
                "tokens": weights.tokens,
                "iterations": steps,
                "config": str(config.relative_to(final)),
            }
        )
    manifest["step_tokens"] = settings.step_tokens
    manifest["phase_transition_iterations"] = list(itertools.accumulate(iterations))[:-1]
    (final / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    replace_dir(final, out)
    shutil.rmtree(staged)
    return manifest
