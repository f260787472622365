"""Scoring documents with the quality classifier: ``quality_score`` = P(positive label), a bounded batch at a
time, so that a scoring task's memory does not grow with its work files (one row group and one batch of
texts as Python strings, whatever the file's size)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import ConfigError
from stages.quality.examples import model_input
from stages.schema import WORK_SCHEMA
from stages.writers import ParquetSink


class ScoreSettings(Protocol):
    """What scoring reads of ``stages.quality.scoring.QualityConfig`` (which imports this module)."""

    max_chars: int
    batch_size: int
    positive_label: str


def positive_probabilities(model, lines: list[str], positive_label: str) -> np.ndarray:
    labels, probs = model.predict(lines, k=-1)
    return np.array(
        [dict(zip(ls, ps)).get(positive_label, 0.0) for ls, ps in zip(labels, probs)],
        dtype=np.float32,
    )


def score_table(model, table: pa.Table, config: ScoreSettings) -> pa.Table:
    """``table`` with its ``quality_score``s; a batch of texts at a time becomes Python strings."""
    texts = table["text"]
    scores = np.concatenate(
        [np.zeros(0, np.float32)]
        + [
            positive_probabilities(
                model,
                [
                    model_input(t, config.max_chars)
                    for t in texts.slice(i, config.batch_size).to_pylist()
                ],
                config.positive_label,
            )
            for i in range(0, len(texts), config.batch_size)
        ]
    )
    column = pa.array(np.clip(scores, 0.0, 1.0), pa.float32())
    return table.set_column(table.schema.get_field_index("quality_score"), "quality_score", column)


def score_work_file(model, path: Path, out_dir: Path, config: ScoreSettings) -> int:
    """Write ``path`` with its documents' scores to ``out_dir`` under its name, ``config.batch_size`` rows at a
    time, in the input's order; returns the rows written."""
    with ParquetSink(Path(out_dir) / path.name, WORK_SCHEMA) as sink:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=config.batch_size):
            table = pa.Table.from_batches([batch]).select(WORK_SCHEMA.names).cast(WORK_SCHEMA)
            sink.write_table(score_table(model, table, config))
        return sink.count


def load_scoring_model(record: dict, config: ScoreSettings):
    import fasttext

    model = fasttext.load_model(record["model"])
    if config.positive_label not in model.get_labels():
        raise ConfigError(
            f"model {record['model']} has labels {model.get_labels()}, not curate.quality.positive_label "
            f"'{config.positive_label}'; set curate.quality.positive_label to the label of good text"
        )
    return model
