"""critmix export --format olmo-core, read back with OLMo-core's own dataset config, mixture and dataset.

The test extra installs ai2-olmo-core with --no-deps: its cached-path (a client for s3://, gs://, hf://
that imports boto3 and google-cloud-storage) is left out. OLMo-core's data modules import it at the
top but read local files without it, so the fixture puts a stand-in under its name: ``cached_path``
returns the local path and its ``schemes`` offer the names olmo_core/io.py subclasses."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.export import FORMATS
from pipeline.export.run import export
from tests.pipeline.export.conftest import CURRICULUM, settings, shard_of

if importlib.util.find_spec("olmo_core") is None:
    pytest.skip("ai2-olmo-core is not installed (the test extra)", allow_module_level=True)


def local_cached_path() -> types.ModuleType:
    class SchemeClient:
        recoverable_errors: tuple = ()

    class S3Client(SchemeClient):
        pass

    schemes = types.ModuleType("cached_path.schemes")
    schemes.SchemeClient, schemes.S3Client = SchemeClient, S3Client  # type: ignore[attr-defined]
    schemes.add_scheme_client = lambda client: None  # type: ignore[attr-defined]
    module = types.ModuleType("cached_path")
    module.__path__ = []  # a package: olmo_core/io.py imports cached_path.schemes
    module.cached_path = lambda path, **_: Path(path)  # type: ignore[attr-defined]
    module.schemes = schemes  # type: ignore[attr-defined]
    return module


@pytest.fixture(scope="module")
def olmo_data():
    if importlib.util.find_spec("cached_path") is None:
        module = local_cached_path()
        sys.modules.setdefault("cached_path", module)
        sys.modules.setdefault("cached_path.schemes", module.schemes)
    from olmo_core.data import numpy_dataset

    return numpy_dataset


@pytest.fixture(scope="module")
def exported(shards, tokens, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "olmo-core"
    return out, export(
        shards, CURRICULUM, FORMATS["olmo-core"], out, settings(tokens / "tokenizer.json")
    )


def test_every_document_reads_back_with_olmo_core(olmo_data, tokens, exported):
    out, manifest = exported
    assert manifest["dtype"] == "uint16" and manifest["eos"] == {"token": "<|endoftext|>", "id": 0}
    for file in manifest["files"]:
        shard = shard_of(tokens, file)
        dataset = olmo_data.NumpyFSLDataset(
            str(out / file["path"]),
            sequence_length=16,
            pad_token_id=0,
            eos_token_id=0,
            vocab_size=300,
            dtype=np.uint16,
        )
        assert len(dataset) == len(shard) // 16 > 0 and file["tokens"] == len(shard)
        read = np.concatenate([dataset[i]["input_ids"].numpy() for i in range(len(dataset))])
        assert np.array_equal(
            read, shard.tokens[: len(read)]
        )  # the remainder is OLMo-core's to drop
        raw = np.memmap(
            out / file["path"], dtype=np.uint16, mode="r"
        )  # the whole file, as it mmaps it
        documents = np.split(raw, np.flatnonzero(raw == 0)[:-1] + 1)
        assert len(documents) == file["documents"] == len(shard.offsets) - 1
        assert all(d[-1] == 0 for d in documents)  # EOS after every document


def test_phase_config_builds_the_planned_mixture(olmo_data, exported):
    out, manifest = exported
    for phase, planned in zip(manifest["phases"], [0.1, 0.4]):
        config = yaml.safe_load((out / phase["config"]).read_text())
        assert config["phase"] == phase["name"]
        dataset_config = olmo_data.NumpyFSLDatasetConfig.from_dict(config["dataset"])
        assert dataset_config.get_dtype() == np.uint16
        mixture = dataset_config.source_mixture_config
        mixture.render_tables, mixture.quiet = False, True
        built = mixture.build(npdtype=np.uint16, sequence_length=dataset_config.sequence_length)
        tokens = {s.name: sum(p.tokens for p in s.path_tokens) for s in built.sources}
        legal = sum(n for name, n in tokens.items() if name.startswith("train/legal/"))
        assert sum(tokens.values()) >= phase["tokens"]
        assert legal / sum(tokens.values()) == pytest.approx(planned, abs=0.01)
        ratios = [s.max_repetition_ratio for s in mixture.source_list.sources]
        assert ratios == [4.0] * len(ratios)  # train.data.max_epochs
    assert [d["feature"] for d in manifest["dropped"] if d["phase"] == "cpt"] == ["metadata"]
