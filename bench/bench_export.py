"""critmix export's tokenizing speed against datatrove's tokenizers, measured in the same run.

The same Parquet shards (``--files`` files of ``--docs`` synthetic documents, two domains; ``--text
ascii`` words or ``wiki`` Wikipedia-like text, none of it ASCII), the same
tokenizer (a byte-level BPE trained here as critmix trains a run's), the same tasks (one per file)
and ``--workers``, each timed from the shards to finished token files:

- ours: ``critmix export --format megatron`` (pipeline.export.run.export): tokenize tasks on the
  local executor, then the .bin/.idx file sets and the phase config;
- datatrove ``MegatronDocumentTokenizer`` (the Megatron writer of datatrove PR 304) and
  ``DocumentTokenizer`` (its .ds files, ``shuffle_documents=False`` as ours keeps document order),
  each after datatrove's ``ParquetReader`` on its ``LocalPipelineExecutor``.

Megatron-LM's own tools/preprocess_data.py is not in megatron-core's wheel (the repository only), so
datatrove's writers are the peers. Prints tokens per second of each and ours over each as a ratio.

    .venv/bin/python bench/bench_export.py [--files 8] [--docs 4000] [--workers 2] [--text ascii|wiki]
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import tempfile
import time
from collections.abc import Callable
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


def lexicon(rng: random.Random, letters: str, words: int, longest: int = 9) -> list[str]:
    return ["".join(rng.choices(letters, k=rng.randint(2, longest))) for _ in range(words)]


def ascii_words(rng: random.Random) -> Callable[[], str]:
    """Documents of 100-400 words from a 5,000-word lowercase ASCII lexicon."""
    words = lexicon(rng, string.ascii_lowercase, 5000)
    return lambda: " ".join(rng.choices(words, k=rng.randint(100, 400)))


def wiki_like(rng: random.Random) -> Callable[[], str]:
    """Wikipedia-like documents of 150-600 words: capitalized names, accented words, words in
    Cyrillic, Greek and CJK, years and numbers, units and currency signs, typographic quotes and
    dashes, paragraph breaks. No document is ASCII."""
    words = lexicon(rng, string.ascii_lowercase, 6000)
    accented = lexicon(rng, "abcdeéèêëàâäôöüùçñíóáøåæß", 800)
    names = [w.capitalize() for w in rng.sample(words, 800) + accented[:300]]
    foreign = lexicon(rng, "абвгдежзиклмнопрстуфхцчшщыэюя", 200, 8)
    foreign += lexicon(rng, "東京日本語中文大学北京上海人民共和国", 100, 4)
    foreign += lexicon(rng, "αβγδεζηθικλμνξοπρστυφχψω", 100, 8)
    marks = [",", ".", ";", " —", " (", ")", "“", "”", "’s", ":", " –"]

    def word() -> str:
        kind = rng.random()
        if kind < 0.70:
            chosen = rng.choice(words)
        elif kind < 0.89:
            chosen = rng.choice(names if kind < 0.80 else accented if kind < 0.86 else foreign)
        elif kind < 0.94:
            chosen = str(rng.choice((rng.randint(1000, 2024), rng.randint(1, 10**6))))
        else:
            chosen = rng.choice(["km²", "°C", "%", "€", "£"])
        return chosen + rng.choice(marks) if rng.random() < 0.12 else chosen

    return lambda: " ".join(word() for _ in range(rng.randint(150, 600))).replace(". ", ".\n\n", 1)


TEXTS = {"ascii": ascii_words, "wiki": wiki_like}


def write_corpus(root: Path, files: int, docs: int, text: str, seed: int = 0) -> Path:
    """``files`` Parquet shard files of ``docs`` documents of ``TEXTS[text]``."""
    rng = random.Random(seed)
    document = TEXTS[text](rng)
    for number in range(files):
        domain = ("general", "legal")[number % 2]
        texts = [document() for _ in range(docs)]
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
    parser.add_argument(
        "--text", choices=sorted(TEXTS), default="ascii", help="the documents' text"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shards = write_corpus(root / "shards", args.files, args.docs, args.text)
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
        f"{args.files} files x {args.docs} documents of {args.text} text, {tokens:,} tokens, "
        f"{args.workers} workers, vocabulary {VOCABULARY}"
    )
    for name, took in seconds.items():
        print(f"  {name:36s} {took:7.1f} s  {tokens / took:12,.0f} tokens/s")
    for name, took in list(seconds.items())[1:]:
        print(f"  ratio critmix export / {name}: {took / seconds['critmix export']:.2f}x")


if __name__ == "__main__":
    main()
