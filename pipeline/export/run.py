"""What every export format shares: the run's token shards as file sets (one per domain x bucket for
training, one per domain for the held-out validation documents), each phase's per-file weights from
the trainer's own ``phase_buckets``, the manifest, and the all-or-nothing write.

Everything is written into ``.<out>.partial`` next to ``--out`` and renamed into place at the end, so
an export that fails or is killed leaves the previous one (or nothing) and its rerun starts afresh;
files carry no timestamps, so a rerun is byte-identical."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import shutil
from pathlib import Path

from tokenizers import Tokenizer

from core.errors import CritmixError
from core.files import file_sha256
from trainer.curriculum import Curriculum
from trainer.data.loader import phase_buckets
from trainer.data.tokens import TokenShard, bucket_stem, val_stem

VALID_BUCKET = "val"


@dataclasses.dataclass(frozen=True)
class ExportFile:
    domain: str
    bucket: str  # "<quality>/<length>", or "val" for the held-out documents
    split: str  # train | valid
    stem: Path  # the critmix token shard it is made from

    @property
    def name(self) -> str:
        """Its path in the export, without extension."""
        if self.split == "valid":
            return f"valid/{self.domain}"
        return f"train/{self.domain}/{self.bucket.replace('/', '__')}"


@dataclasses.dataclass
class PhaseWeights:
    name: str
    tokens: int
    train: list[tuple[ExportFile, float]]
    valid: list[tuple[ExportFile, float]]


def token_files(tokens_dir: Path) -> list[ExportFile]:
    """Every token shard, empty ones included (``export`` lists those apart: no format stores them)."""
    files = []
    for header in sorted((tokens_dir / "train").glob("*/*.json")):
        domain, bucket = header.parent.name, header.stem.replace("__", "/")
        files.append(ExportFile(domain, bucket, "train", bucket_stem(tokens_dir, domain, bucket)))
    for header in sorted((tokens_dir / "val").glob("*.json")):
        files.append(
            ExportFile(header.stem, VALID_BUCKET, "valid", val_stem(tokens_dir, header.stem))
        )
    return files


def is_empty(file: ExportFile) -> bool:
    return TokenShard(file.stem).header["documents"] == 0


def phase_weights(tokens_dir: Path, phase, files: list[ExportFile]) -> PhaseWeights:
    """The trainer's planned share of each bucket (domain share x bucket weight); the valid split
    weights each domain's held-out documents by its share."""
    by_key = {(f.domain, f.bucket, f.split): f for f in files}
    train = [
        (by_key[b.domain, b.key, "train"], b.weight)
        for b in phase_buckets(tokens_dir, phase)
        if (b.domain, b.key, "train") in by_key
    ]
    valid = [
        (by_key[d, VALID_BUCKET, "valid"], mix.share)
        for d, mix in sorted(phase.mixture.items())
        if mix.share > 0 and (d, VALID_BUCKET, "valid") in by_key
    ]
    return PhaseWeights(phase.name, phase.tokens, train, valid)


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


def export(
    tokens_dir: Path, curriculum: Curriculum, writer_class, out: Path, run_id: str, step_tokens: int
) -> dict:
    """Write the export of ``tokens_dir`` for ``curriculum`` to ``out``; returns the manifest. The
    manifest's ``phase_transition_iterations`` are the steps at which each phase after the first starts."""
    out = Path(out).absolute()
    check_out(out, run_id)
    tokenizer = tokens_dir / "tokenizer.json"
    every = token_files(tokens_dir)
    files = [file for file in every if not is_empty(file)]
    phases = [
        phase_weights(tokens_dir, phase, files) for phase in curriculum.phases
    ]  # errors before writing
    writer = writer_class(
        Tokenizer.from_file(str(tokenizer)).get_vocab_size(), tokenizer.absolute()
    )
    staged = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    manifest: dict = {
        "run": run_id,
        "tokenizer": str(tokenizer.absolute()),
        "files": [],
        "phases": [],
        "dropped": dropped(curriculum, writer.dropped_features),
        "empty": [
            {"domain": f.domain, "bucket": f.bucket, "split": f.split} for f in every if is_empty(f)
        ],
    }
    for file in files:
        shard = TokenShard(file.stem)
        entry, written = writer.write_file(shard, staged, file.name)
        manifest["files"].append(
            dict(
                entry,
                domain=file.domain,
                bucket=file.bucket,
                split=file.split,
                documents=shard.header["documents"],
                tokens=shard.header["tokens"],
                sha256={p.name: file_sha256(p) for p in written},
            )
        )
    iterations = phase_iterations(curriculum, step_tokens)
    for phase, steps in zip(phases, iterations):
        config = writer.write_phase(phase, staged, out)
        manifest["phases"].append(
            {
                "name": phase.name,
                "tokens": phase.tokens,
                "iterations": steps,
                "config": str(config.relative_to(staged)),
            }
        )
    manifest["step_tokens"] = step_tokens
    manifest["phase_transition_iterations"] = list(itertools.accumulate(iterations))[:-1]
    (staged / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    replace_dir(staged, out)
    return manifest
