"""critmix export --format megatron, read back with megatron-core's own IndexedDataset and blend."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import CritmixError
from core.files import file_sha256
from pipeline.export import FORMATS
from pipeline.export.run import export
from tests.pipeline.export.conftest import CURRICULUM, settings, shard_of
from tests.trainer.conftest import two_domain_phase
from trainer.curriculum import Curriculum

indexed_dataset = pytest.importorskip("megatron.core.datasets.indexed_dataset")


def checksums(root):
    return {
        str(p.relative_to(root)): file_sha256(p) for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="session")
def exported(shards, tokens, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "megatron"
    return out, export(
        shards, CURRICULUM, FORMATS["megatron"], out, settings(tokens / "tokenizer.json")
    )


def test_every_document_reads_back_with_megatron_core(tokens, exported):
    out, manifest = exported
    assert {(f["domain"], f["bucket"], f["split"]) for f in manifest["files"]} == {
        ("general", "high/long", "train"),
        ("general", "mid/short", "train"),
        ("legal", "high/long", "train"),
        ("general", "val", "valid"),
        ("legal", "val", "valid"),
    }
    for file in manifest["files"]:
        shard = shard_of(tokens, file)
        dataset = indexed_dataset.IndexedDataset(str(out / file["prefix"]))
        assert len(dataset) == file["documents"] == len(shard.offsets) - 1 > 0
        assert dataset.index.dtype == np.uint16 and manifest["dtype"] == "uint16"
        assert file["tokens"] == len(shard)
        for i in range(len(dataset)):
            expected = shard.tokens[shard.offsets[i] : shard.offsets[i + 1]]
            assert np.array_equal(dataset[i], expected)
            assert dataset[i][-1] == 0  # the EOD: critmix's trained tokenizer's <|endoftext|>


def test_phase_blends_follow_the_planned_shares(exported):
    out, manifest = exported
    for phase, planned in zip(manifest["phases"], [0.1, 0.4]):
        config = json.loads((out / phase["config"]).read_text())
        assert config["phase"] == phase["name"]
        weights = dict(zip(config["train"][1::2], map(float, config["train"][::2])))
        legal = sum(w for prefix, w in weights.items() if "/train/legal/" in prefix) / sum(
            weights.values()
        )
        assert legal == pytest.approx(planned)
        line = (out / phase["config"]).with_suffix(".data-path.txt").read_text().split()
        assert line == config["train"]
    cpt = json.loads((out / "phases/cpt.json").read_text())["train"]
    general = {
        p.rsplit("/", 1)[1]: float(w) for w, p in zip(cpt[::2], cpt[1::2]) if "/general/" in p
    }
    assert general["high__long"] == pytest.approx(3 * general["mid__short"])
    assert [p["iterations"] for p in manifest["phases"]] == [16, 8]
    assert manifest["phase_transition_iterations"] == [16]
    assert [d["feature"] for d in manifest["dropped"] if d["phase"] == "cpt"] == [
        "metadata",
        "max_epochs",
    ]


def test_rerun_is_byte_identical_and_a_killed_one_leaves_nothing(
    shards, tokens, exported, tmp_path
):
    out, _ = exported
    again = tmp_path / "megatron"
    (tmp_path / ".megatron.partial").mkdir()  # what a killed export leaves
    (tmp_path / ".megatron.partial" / "junk.bin").write_bytes(b"x")
    export(shards, CURRICULUM, FORMATS["megatron"], again, settings(tokens / "tokenizer.json"))
    first = checksums(again)
    export(shards, CURRICULUM, FORMATS["megatron"], again, settings(tokens / "tokenizer.json"))
    assert checksums(again) == first
    tokens_only = {
        k: v for k, v in first.items() if not k.startswith("phases/")
    }  # phases name their dir
    assert tokens_only == {k: v for k, v in checksums(out).items() if not k.startswith("phases/")}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["megatron"]


def test_bad_input_writes_nothing(shards, tokens, exported, tmp_path):
    out, _ = exported
    with pytest.raises(CritmixError, match="another run"):
        export(
            shards,
            CURRICULUM,
            FORMATS["megatron"],
            out,
            settings(tokens / "tokenizer.json", run_id="run-b"),
        )
    unknown = Curriculum(phases=[two_domain_phase(buckets={"low/long": 1.0})])
    with pytest.raises(CritmixError, match="low/long"):
        export(
            shards,
            unknown,
            FORMATS["megatron"],
            tmp_path / "x",
            settings(tokens / "tokenizer.json"),
        )
    assert list(tmp_path.iterdir()) == []


def test_cli_without_a_curriculum_says_what_to_run(tiny_run, tmp_path, in_repo, capsys):
    import shutil

    from pipeline.cli import main
    from tests.conftest import TINY_CONFIG

    run = shutil.copytree(tiny_run, tmp_path / "run")  # curated, never planned
    shutil.rmtree(run / "plan", ignore_errors=True)
    assert (
        main(["export", "--format", "megatron", "--config", str(TINY_CONFIG), "--run", str(run)])
        == 1
    )
    assert "no curriculum" in capsys.readouterr().err
    assert not (run / "export").exists()


class EodTokenizer:
    """What GPTDataset asks of a tokenizer: the EOD and pad ids (critmix's <|endoftext|> is 0)."""

    eod = pad = 0
    vocab_size = 300
    unique_identifiers = {"class": "critmix-bpe"}


def test_megatron_blended_builder_samples_the_planned_shares(exported):
    from megatron.core.datasets.blended_megatron_dataset_builder import (
        BlendedMegatronDatasetBuilder,
    )
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from megatron.core.datasets.utils import get_blend_from_list

    out, manifest = exported
    config = json.loads((out / "phases/cpt.json").read_text())
    dataset_config = GPTDatasetConfig(
        random_seed=1,
        sequence_length=16,
        tokenizer=EodTokenizer(),
        path_to_cache=None,  # no cache: it needs torch.distributed
        blend_per_split=[
            get_blend_from_list(config["train"]),
            get_blend_from_list(config["valid"]),
            None,
        ],
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
    )
    train, valid, _ = BlendedMegatronDatasetBuilder(
        GPTDataset, [2000, 40, None], lambda: True, dataset_config
    ).build()
    domains = np.array(["/legal/" in d.dataset.path_prefix for d in train.datasets])[
        train.dataset_index
    ]
    assert len(domains) == 2000 and domains.mean() == pytest.approx(0.4, abs=0.01)
    assert np.array_equal(train[0]["tokens"].shape, [16]) and len(valid) == 40


@pytest.mark.slow
def test_cli_exports_a_curated_run(tiny_run, tmp_path):
    from pipeline.cli import main
    from pipeline.config import load_config
    from tests.conftest import TINY_CONFIG
    from trainer.curriculum import write_curriculum
    from trainer.data.tokenize import tokenize_shards

    spec = tmp_path / "curriculum.yaml"
    write_curriculum(Curriculum(phases=[two_domain_phase("cpt", tokens=4096, legal=0.3)]), spec)
    args = [
        "export",
        "--format",
        "megatron",
        "--config",
        str(TINY_CONFIG),
        "--run",
        str(tiny_run),
        "--curriculum",
        str(spec),
        "--global-batch",
        "2",
        "--seq-len",
        "64",
    ]
    assert main(args) == 0
    manifest = json.loads((tiny_run / "export/megatron/manifest.json").read_text())
    # the trainer's token shards, with the tokenizer the export trained for the run: what it must equal
    tokenize_shards(tiny_run / "shards", tiny_run / "tokens", load_config(TINY_CONFIG).train)
    for file in manifest["files"]:
        shard = shard_of(tiny_run / "tokens", file)
        dataset = indexed_dataset.IndexedDataset(str(tiny_run / "export/megatron" / file["prefix"]))
        assert np.array_equal(
            np.concatenate([dataset[i] for i in range(len(dataset))]), shard.tokens
        )
    assert manifest["phases"][0]["iterations"] == 32
