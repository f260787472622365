"""Tiny Parquet shards (two domains, three buckets) and their token shards, built once per session."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.config import from_mapping
from trainer.config import TrainConfig
from trainer.curriculum import Curriculum, DomainMix, LRSegment, Phase
from trainer.data.tokenize import tokenize_shards

WORDS = {
    "general": "the cat sat on a mat while birds sang over green hills and rivers".split(),
    "legal": "licensee shall grant warranty liability notice copyright permission herein".split(),
}
BUCKETS = [
    ("general", "high", "long", 60),
    ("general", "mid", "short", 60),
    ("legal", "high", "long", 60),
]


def write_shards(root, seed: int = 0):
    rng = random.Random(seed)
    for domain, quality, length, n_docs in BUCKETS:
        texts = [
            " ".join(
                rng.choice(WORDS[domain])
                for _ in range(rng.randint(40, 120 if length == "long" else 60))
            )
            for _ in range(n_docs)
        ]
        table = pa.table(
            {
                "id": [f"{domain}-{quality}-{length}-{i}" for i in range(n_docs)],
                "text": texts,
                "domain": [domain] * n_docs,
                "source": ["synthetic"] * n_docs,
                "lang": ["en"] * n_docs,
                "lang_score": pa.array([1.0] * n_docs, pa.float32()),
                "quality_score": pa.array([0.5] * n_docs, pa.float32()),
                "quality_tier": [quality] * n_docs,
                "length_bucket": [length] * n_docs,
                "n_chars": [len(t) for t in texts],
                "n_tokens_est": [len(t) // 4 for t in texts],
                "dup_cluster": pa.array([None] * n_docs, pa.string()),
                "meta": ["{}"] * n_docs,
            }
        )
        folder = root / f"domain={domain}" / f"quality={quality}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"part-{length}.parquet")
    return root


def tiny_config(**overrides) -> TrainConfig:
    base = {
        "seed": 0,
        "threads": 1,
        "log_every_steps": 1,
        "model": {"preset": "tiny", "hidden": 64, "seq_len": 32},
        "tokenizer": {"vocab_size": 300},
        "optim": {"micro_batch": 4},
        "eval": {"val_sequences": 4, "at_tokens": [0]},
        "data": {"val_fraction": 0.1, "min_piece": 8},
    }
    for key, value in overrides.items():
        base.setdefault(key, {}).update(value) if isinstance(value, dict) else base.__setitem__(
            key, value
        )
    return from_mapping(TrainConfig, base)


def two_domain_phase(
    name="cpt", tokens=4096, legal=0.3, init="previous", schedule="cosine", buckets=None
) -> Phase:
    return Phase(
        name=name,
        tokens=tokens,
        init=init,
        lr=LRSegment(schedule=schedule, peak=3e-3, final=3e-4, warmup_tokens=256),
        mixture={
            "general": DomainMix(
                share=1 - legal, buckets=buckets or {}, chosen_by={"method": "remainder"}
            ),
            "legal": DomainMix(share=legal, chosen_by={"method": "cmr_law", "cmr": 0.31}),
        },
    )


@pytest.fixture(scope="session")
def shards_dir(tmp_path_factory):
    return write_shards(tmp_path_factory.mktemp("shards"))


@pytest.fixture(scope="session")
def tokens_dir(shards_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("tokens")
    tokenize_shards(shards_dir, out, tiny_config())
    return out


@pytest.fixture
def curriculum() -> Curriculum:
    return Curriculum(phases=[two_domain_phase()])


def folder_digest(folder):
    """Every file under ``folder`` (relative path) -> its sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


CURRICULUM = Curriculum(
    phases=[
        two_domain_phase("base", tokens=2048, init="scratch", legal=0.0),
        two_domain_phase("cpt", tokens=2048, legal=0.3, schedule="wsd"),
    ]
)


def train_lines(out: Path) -> list[dict]:
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [line for line in lines if "train_loss" in line]
