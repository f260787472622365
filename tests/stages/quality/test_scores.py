"""Scoring a work file a bounded batch at a time: the scores of scoring it whole, never more rows at once."""

import pyarrow as pa
import pyarrow.parquet as pq

from stages.quality import scores
from stages.quality.scoring import POSITIVE, QualityConfig
from stages.schema import WORK_SCHEMA


class LengthModel:
    """A stand-in classifier: P(positive) from the text's length, so every document's score is known."""

    def predict(self, lines, k=-1):
        return [[POSITIVE] for _ in lines], [[len(line) % 97 / 97] for line in lines]


def work_file(path, documents: int, row_group_size: int):
    rows = [
        {"id": f"d{i:05d}", "text": "word " * (i % 300), "domain": "general"}
        for i in range(documents)
    ]
    pq.write_table(
        pa.Table.from_pylist(rows, schema=WORK_SCHEMA), path, row_group_size=row_group_size
    )


def test_a_work_file_is_scored_a_batch_at_a_time_with_the_scores_of_the_whole(
    tmp_path, monkeypatch
):
    config = QualityConfig(batch_size=64)
    work_file(tmp_path / "w.parquet", 1000, row_group_size=400)
    seen = []
    score_table = scores.score_table
    monkeypatch.setattr(
        scores,
        "score_table",
        lambda model, table, cfg: seen.append(table.num_rows) or score_table(model, table, cfg),
    )
    (tmp_path / "out").mkdir()
    assert (
        scores.score_work_file(LengthModel(), tmp_path / "w.parquet", tmp_path / "out", config)
        == 1000
    )
    assert max(seen) <= config.batch_size and sum(seen) == 1000
    whole = score_table(
        LengthModel(), pq.read_table(tmp_path / "w.parquet", schema=WORK_SCHEMA), config
    )
    assert pq.read_table(tmp_path / "out/w.parquet").equals(whole)
