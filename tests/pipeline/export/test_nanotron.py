"""critmix export --format nanotron, read back with datatrove's own token file dataset."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from pipeline.export import FORMATS
from pipeline.export.run import export
from tests.pipeline.export.conftest import CURRICULUM, settings, shard_of


def test_every_token_and_document_end_reads_back_with_datatrove(shards, tokens, tmp_path):
    from datatrove.utils.dataset import DatatroveFileDataset

    out = tmp_path / "nanotron"
    manifest = export(
        shards, CURRICULUM, FORMATS["nanotron"], out, settings(tokens / "tokenizer.json")
    )
    seq_len = 15
    for file in manifest["files"]:
        shard = shard_of(tokens, file)
        path = out / file["path"] / "00000.ds"
        dataset = DatatroveFileDataset(str(path), seq_len, token_size=2, return_positions=True)
        assert len(dataset) == len(shard) // (seq_len + 1) > 0
        windows = [dataset[i] for i in range(len(dataset))]
        read = np.concatenate([w["input_ids"].numpy() for w in windows])
        assert np.array_equal(read, shard.tokens[: len(read)])
        positions = np.concatenate([w["positions"].numpy() for w in windows])
        starts = set(shard.offsets[:-1].tolist()) & set(range(len(read)))
        assert set(np.flatnonzero(positions == 0).tolist()) >= starts  # the index's document ends
    stage = yaml.safe_load((out / "phases/cpt.yaml").read_text())["data_stages"][0]
    assert stage["name"] == "cpt"
    weights = dict(
        zip(stage["data"]["dataset"]["dataset_folder"], stage["data"]["dataset"]["dataset_weights"])
    )
    assert sum(w for f, w in weights.items() if "/train/legal/" in f) == pytest.approx(0.4)
