"""critmix export's tokenizing speed against datatrove's tokenizers, measured in the same run.

The same Parquet shards (``--files`` files of ``--docs`` synthetic documents, two domains), the same
tokenizer (a byte-level BPE trained here as critmix trains a run's), the same tasks (one per file)
and ``--workers``, each timed from the shards to finished token files:

- ours: ``critmix export --format megatron`` (pipeline.export.run.export): tokenize tasks on the
  local executor, then the .bin/.idx file sets and the phase config;
- datatrove ``MegatronDocumentTokenizer`` (the Megatron writer of datatrove PR 304) and
  ``DocumentTokenizer`` (its .ds files, ``shuffle_documents=False`` as ours keeps document order),
  each after datatrove's ``ParquetReader`` on its ``LocalPipelineExecutor``.

Megatron-LM's own tools/preprocess_data.py is not in megatron-core's wheel (the repository only), so
datatrove's writers are the peers. Prints tokens per second of each and ours over each as a ratio.

    .venv/bin/python bench/bench_export.py [--files 8] [--docs 4000] [--workers 2]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipeline.config import CurateConfig  # noqa: E402
from pipeline.export import FORMATS  # noqa: E402
from pipeline.export.run import export  # noqa: E402
from tests.pipeline.export.conftest import settings  # noqa: E402
from tests.trainer.conftest import two_domain_phase  # noqa: E402
from trainer.curriculum import Curriculum  # noqa: E402
from trainer.data.tokenize import EOS, train_tokenizer  # noqa: E402

VOCABULARY = 8192


def write_corpus(root: Path, files: int, docs: int, seed: int = 0) -> Path:
    """``files`` Parquet shard files of ``docs`` documents of 100-400 words from a 5,000-word lexicon."""
    rng = random.Random(seed)
    lexicon = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(5000)
    ]
    for number in range(files):
        domain = ("general", "legal")[number % 2]
        texts = [" ".join(rng.choices(lexicon, k=rng.randint(100, 400))) for _ in range(docs)]
        table = pa.table(
            {
                "id": [f"{number}-{i}" for i in range(docs)],
                "text": texts,
                "length_bucket": ["long"] * docs,
            }
        )
        folder = root / f"domain={domain}" / "quality=high"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"part-{number:03d}.parquet")
    return root


def ours(shards: Path, tokenizer: Path, out: Path, workers: int) -> int:
    """Our export; returns the tokens it wrote."""
    curriculum = Curriculum(phases=[two_domain_phase("bench", tokens=1_000_000, legal=0.5)])
    run = settings(tokenizer, curate=CurateConfig(workers=workers))
    manifest = export(shards, curriculum, FORMATS["megatron"], out, run)
    return sum(file["tokens"] for file in manifest["files"])


def datatrove(writer, shards: Path, out: Path, files: int, workers: int) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import ParquetReader

    reader = ParquetReader(str(shards), glob_pattern="domain=*/quality=*/*.parquet", id_key="id")
    executor = LocalPipelineExecutor(
        [reader, writer], tasks=files, workers=workers, logging_dir=str(out / "logs")
    )
    executor.run()


def peers(tokenizer: Path, out: Path) -> dict:
    from datatrove.pipeline.tokens import DocumentTokenizer, MegatronDocumentTokenizer

    return {
        "datatrove MegatronDocumentTokenizer": MegatronDocumentTokenizer(
            str(out / "megatron"), tokenizer_name_or_path=str(tokenizer), eos_token=EOS
        ),
        "datatrove DocumentTokenizer": DocumentTokenizer(
            str(out / "ds"),
            tokenizer_name_or_path=str(tokenizer),
            eos_token=EOS,
            shuffle_documents=False,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--docs", type=int, default=4000, help="documents per file")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shards = write_corpus(root / "shards", args.files, args.docs)
        texts = pq.read_table(next(shards.rglob("*.parquet")), columns=["text"])["text"].to_pylist()
        tokenizer = root / "tokenizer.json"
        train_tokenizer(texts[:2000], VOCABULARY, tokenizer)
        started = time.perf_counter()
        tokens = ours(shards, tokenizer, root / "ours", args.workers)
        seconds = {"critmix export": time.perf_counter() - started}
        for name, writer in peers(tokenizer, root / "peers").items():
            started = time.perf_counter()
            datatrove(writer, shards, root / "peers" / name.split()[-1], args.files, args.workers)
            seconds[name] = time.perf_counter() - started
    print(
        f"{args.files} files x {args.docs} documents, {tokens:,} tokens, {args.workers} workers, "
        f"vocabulary {VOCABULARY}"
    )
    for name, took in seconds.items():
        print(f"  {name:36s} {took:7.1f} s  {tokens / took:12,.0f} tokens/s")
    for name, took in list(seconds.items())[1:]:
        print(f"  ratio critmix export / {name}: {took / seconds['critmix export']:.2f}x")


if __name__ == "__main__":
    main()
