"""Tokenize bucketed Parquet shards into token shards (layout in trainer/data/tokens.py), with every
document's metadata fields (for MeCo prefixes) and its pieces of 2^k tokens (for dataset decomposition).

API: ``tokenize_shards(shards_dir, tokens_dir, config: TrainConfig) -> dict`` returns the headers
written or found up to date. ``train_tokenizer(texts, vocab_size, path)`` trains the byte-level BPE;
``hf_tokenizer(tokens_dir)`` wraps it as a transformers ``PreTrainedTokenizerFast``. The tokenizer is
``train.tokenizer.path`` (copied in) or that BPE; every document ends with its EOS
(trainer/data/tokenizer.py), recorded in ``tokens_dir/tokenizer_config.json``.
CLI: ``python -m trainer tokenize --shards <run>/shards --out <run>/tokens``.

pyarrow is imported inside the Parquet readers only: training needs nothing but token shards.
Domains are tokenized in parallel (`data.tokenize_workers` threads; the Rust encoder releases the
GIL). A domain is re-tokenized only when its Parquet files (names, sizes, mtimes), the tokenizer, its
EOS, the validation fraction or the piece lengths (``data.min_piece`` up to ``model.seq_len``) change.
Validation documents are chosen by a hash of their id, so the split is stable across runs.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from trainer.config import TrainConfig
from core.errors import ConfigError
from core.files import atomic_write_bytes, remove_leftovers
from trainer.data.tokenizer import TRAIN_KEYS, Eos, find_eos, load_tokenizer, save_eos, tokenizer_file, tokens_eos
from trainer.data.tokens import bucket_stem, dtype_for, piece_lengths, read_header, val_stem, write_shard

EOS = "<|endoftext|>"  # the run's own BPE's


def train_tokenizer(texts, vocab_size: int, path: Path) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Renamed into place: a run killed mid-save must not find a truncated tokenizer.json and keep it.
    atomic_write_bytes(path, tokenizer.to_str().encode())
    return tokenizer


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def is_validation(doc_id: str, val_fraction: float) -> bool:
    digest = hashlib.blake2b(doc_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < val_fraction


def discover_buckets(shards_dir: Path) -> dict[tuple[str, str], list[Path]]:
    """(domain, quality) -> Parquet files, from the Hive partitions."""
    found: dict[tuple[str, str], list[Path]] = {}
    for file in sorted(Path(shards_dir).glob("domain=*/quality=*/*.parquet")):
        domain = file.parent.parent.name.split("=", 1)[1]
        quality = file.parent.name.split("=", 1)[1]
        found.setdefault((domain, quality), []).append(file)
    if not found:
        raise ConfigError(f"{shards_dir} holds no domain=*/quality=*/*.parquet shards; run `make curate` first")
    return found


def domain_files(groups: dict, domain: str) -> list[Path]:
    return [f for (d, _), fs in groups.items() if d == domain for f in fs]


def read_rows(files: list[Path], columns: list[str]):
    import pyarrow.parquet as pq  # only the tokenize step reads Parquet

    for file in files:
        table = pq.read_table(file, columns=columns)
        yield from zip(*(table.column(c).to_pylist() for c in columns))


def sample_texts(groups: dict, sample_chars: int):
    """A deterministic sample for BPE training: the same share of characters from every partition."""
    per_group = max(sample_chars // len(groups), 1)
    for files in groups.values():
        taken = 0
        for (text,) in read_rows(files, ["text"]):
            if taken >= per_group:
                break
            taken += len(text)
            yield text


def source_hash(files: list[Path]) -> str:
    parts = [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _encode(tokenizer: Tokenizer, texts: list[str], eos_id: int) -> list[np.ndarray]:
    return [np.array(e.ids + [eos_id], dtype=np.int64) for e in tokenizer.encode_batch(texts)]


def metadata_fields(domain: str, source: str, meta: str) -> dict:
    """What a metadata template may name (trainer.curriculum.METADATA_FIELDS): title and URL when the source has one."""
    extra = json.loads(meta or "{}")
    fields = {"source": source, "domain": domain}
    fields.update({key: str(extra[key]) for key in ("title", "url") if extra.get(key)})
    return fields


def _settings(config: TrainConfig, tok_hash: str, eos: Eos) -> dict:
    """What the token shards depend on besides the Parquet files: a change re-tokenizes the domain."""
    return {"tokenizer": tok_hash, "eos": eos.token, "val_fraction": config.data.val_fraction,
            "piece_lengths": piece_lengths(config.model.seq_len, config.data.min_piece)}


def _tokenize_domain(domain: str, groups: dict, tokenizer: Tokenizer, eos: Eos, tokens_dir: Path,
                     config: TrainConfig, tok_hash: str) -> list[dict]:
    common = dict(_settings(config, tok_hash, eos), source=source_hash(domain_files(groups, domain)), domain=domain)
    dtype = dtype_for(tokenizer.get_vocab_size())
    train: dict[str, list[tuple[str, dict]]] = {}
    val: list[tuple[str, dict]] = []
    for (d, quality), fs in sorted(groups.items()):
        if d != domain:
            continue
        for doc_id, text, length, source, meta in read_rows(fs, ["id", "text", "length_bucket", "source", "meta"]):
            document = (text, metadata_fields(domain, source, meta))
            if is_validation(doc_id, config.data.val_fraction):
                val.append(document)
            else:
                train.setdefault(f"{quality}/{length}", []).append(document)

    def write(stem: Path, documents: list[tuple[str, dict]], bucket: str, lengths: list[int]) -> dict:
        return write_shard(stem, _encode(tokenizer, [text for text, _ in documents], eos.id), dtype,
                           dict(common, bucket=bucket), [fields for _, fields in documents], lengths)

    headers = [write(bucket_stem(tokens_dir, domain, key), documents, key, common["piece_lengths"])
               for key, documents in sorted(train.items())]
    headers.append(write(val_stem(tokens_dir, domain), val, "val", []))
    return headers


def _up_to_date(domain: str, files: list[Path], tokens_dir: Path, tok_hash: str, eos: Eos,
                config: TrainConfig) -> dict | None:
    header = read_header(val_stem(tokens_dir, domain))
    expected = dict(_settings(config, tok_hash, eos), source=source_hash(files))
    if header and all(header.get(key) == value for key, value in expected.items()):
        return header
    return None


def ensure_tokenizer(groups: dict, tokens_dir: Path, config: TrainConfig) -> Path:
    """``tokens_dir/tokenizer.json``: a copy of ``tokenizer.path``, else the run's BPE, trained once on
    ``groups``; and beside it the EOS it ends documents with (one-line error when it has none)."""
    tok_file = tokens_dir / "tokenizer.json"
    if config.tokenizer.path:
        source = tokenizer_file(config.tokenizer.path, TRAIN_KEYS)
        eos = find_eos(load_tokenizer(source), source, config.tokenizer.eos, TRAIN_KEYS)
        tokens_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(tok_file, source.read_bytes())
    else:
        if not tok_file.is_file():
            train_tokenizer(sample_texts(groups, config.tokenizer.sample_chars), config.tokenizer.vocab_size,
                            tok_file)
        # not from tokens_dir's own tokenizer_config.json: that is what is being written
        eos = find_eos(load_tokenizer(tok_file), tok_file, config.tokenizer.eos, TRAIN_KEYS, beside=False)
    save_eos(tokens_dir, eos)
    return tok_file


def tokenize_shards(shards_dir: str | Path, tokens_dir: str | Path, config: TrainConfig) -> dict[str, list[dict]]:
    shards_dir, tokens_dir = Path(shards_dir), Path(tokens_dir)
    groups = discover_buckets(shards_dir)
    remove_leftovers(tokens_dir)
    tok_file = ensure_tokenizer(groups, tokens_dir, config)
    tokenizer = load_tokenizer(tok_file)
    eos = tokens_eos(tokens_dir, tokenizer)
    tok_hash = file_hash(tok_file)
    domains = sorted({d for d, _ in groups})
    pending = []
    for domain in domains:
        if _up_to_date(domain, domain_files(groups, domain), tokens_dir, tok_hash, eos, config) is None:
            # Drop stale bucket files first so a bucket that vanished from the shards vanishes here too.
            shutil.rmtree(tokens_dir / "train" / domain, ignore_errors=True)
            pending.append(domain)
    with ThreadPoolExecutor(max(config.data.tokenize_workers, 1)) as pool:
        written = dict(zip(pending, pool.map(
            lambda d: _tokenize_domain(d, groups, tokenizer, eos, tokens_dir, config, tok_hash), pending)))
    return {d: written.get(d, []) for d in domains}


def hf_tokenizer(tokens_dir: str | Path):
    from transformers import PreTrainedTokenizerFast

    tokens_dir = Path(tokens_dir)
    eos = tokens_eos(tokens_dir, load_tokenizer(tokens_dir / "tokenizer.json"))
    return PreTrainedTokenizerFast(tokenizer_file=str(tokens_dir / "tokenizer.json"),
                                   eos_token=eos.token, pad_token=eos.token)
