"""Quality scoring throughput: batched scoring (stages/quality/scoring.py) vs datatrove's FastTextClassifierFilter.

Both score the same documents of the demo corpus (`make corpus`) with the same fastText model, on one
core. Ours clips each document to quality.max_chars; datatrove predicts on the whole text.
"""

from __future__ import annotations

import glob
import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa  # noqa: E402

from stages.quality.examples import jsonl_texts, new_sample  # noqa: E402
from stages.quality.scores import score_table  # noqa: E402
from stages.quality.scoring import QualityConfig, train  # noqa: E402

DOCS = 4000


def demo_texts() -> list[str]:
    files = sorted(glob.glob("data/raw/*/*.jsonl"))
    if not files:
        sys.exit("bench_quality: no demo corpus under data/raw; run `make corpus` first")
    texts = []
    for path in files:  # a few documents of every source, round-robin, so all kinds are in the mix
        texts.extend(itertools.islice(jsonl_texts([path]), DOCS // len(files) + 1))
    return texts[:DOCS]


def main() -> None:
    import fasttext
    from datatrove.data import Document
    from datatrove.pipeline.filters import FastTextClassifierFilter

    config = QualityConfig()
    positives, negatives = new_sample(config), new_sample(config)
    positives.extend(jsonl_texts([f"{config.demo_corpus}/{s}/*.jsonl" for s in config.positives]))
    negatives.extend(jsonl_texts(config.negative_paths))
    record = train(positives, negatives, config, {"positive": config.positives})
    texts = demo_texts()
    model = fasttext.load_model(record["model"])
    table = pa.table({"text": texts, "quality_score": pa.array([None] * len(texts), pa.float32())})
    start = time.perf_counter()
    score_table(model, table, config)
    ours = len(texts) / (time.perf_counter() - start)
    peer = FastTextClassifierFilter(record["model"], keep_labels=[("hq", 0.0)])
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    start = time.perf_counter()
    for doc in docs:
        peer.filter(doc)
    theirs = len(texts) / (time.perf_counter() - start)
    print(
        f"quality scoring ({len(texts)} demo docs, 1 core): ours {ours:,.0f} docs/s vs datatrove "
        f"FastTextClassifierFilter {theirs:,.0f} docs/s = {ours / theirs:.2f}x"
    )


if __name__ == "__main__":
    main()
