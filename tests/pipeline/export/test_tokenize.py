"""The export's tokenizing: the user's own tokenizer (made here with the tokenizers library), its
EOS and dtype errors, and the executor's output, which does not depend on the number of workers."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from core.errors import CritmixError
from core.files import file_sha256
from pipeline.config import CurateConfig
from pipeline.export import FORMATS
from pipeline.export.run import export
from pipeline.export.tokenize import load_export_tokenizer
from tests.offline_tokenizers import byte_level_bpe, llama3_style, unfamiliar_texts
from tests.pipeline.export.conftest import CURRICULUM, settings, shard_of
from tests.trainer.conftest import WORDS, tiny_config
from trainer.data.tokenize import is_validation, tokenize_shards

indexed_dataset = pytest.importorskip("megatron.core.datasets.indexed_dataset")


def word_tokenizer(path, specials=("<unk>", "</s>"), padding=0):
    """A word-level tokenizer of the test corpus's words, ``padding`` filler tokens making it larger."""
    words = [*specials, *sorted({w for ws in WORDS.values() for w in ws})]
    words += [f"filler{i}" for i in range(padding)]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens(list(specials))
    tokenizer.save(str(path))
    return path


def expected_documents(shards, tokenizer_path, eos: int) -> dict[tuple[str, str], list[list[int]]]:
    """Each (domain, bucket) file set's documents as ``tokenizer_path`` encodes them, in shard order."""
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    documents: dict[tuple[str, str], list[list[int]]] = {}
    for path in sorted(shards.glob("domain=*/quality=*/*.parquet")):
        domain, quality = (p.name.split("=")[1] for p in (path.parent.parent, path.parent))
        table = pq.read_table(path).to_pylist()
        for row in table:
            valid = is_validation(row["id"], 0.1)
            key = (domain, "val" if valid else f"{quality}/{row['length_bucket']}")
            documents.setdefault(key, []).append(tokenizer.encode(row["text"]).ids + [eos])
    return documents


def test_the_users_tokenizer_and_its_eos(shards, tmp_path):
    tokenizer = word_tokenizer(tmp_path / "tokenizer.json")
    manifest = export(
        shards, CURRICULUM, FORMATS["megatron"], tmp_path / "out", settings(tokenizer)
    )
    assert manifest["eos"] == {"token": "</s>", "id": 1}
    expected = expected_documents(shards, tokenizer, eos=1)
    assert {(f["domain"], f["bucket"]) for f in manifest["files"]} == set(expected)
    for file in manifest["files"]:
        dataset = indexed_dataset.IndexedDataset(str(tmp_path / "out" / file["prefix"]))
        documents = expected[file["domain"], file["bucket"]]
        assert [dataset[i].tolist() for i in range(len(dataset))] == documents
        assert file["documents"] == len(documents) and 0 not in np.concatenate(
            documents
        )  # no <unk>


@pytest.mark.parametrize("pipeline", ["gpt2", "llama3"])
def test_the_export_and_the_trainer_end_documents_alike(shards, tmp_path, pipeline):
    """A byte-level BPE whose EOS is <|end_of_text|> (found by name), GPT-2's pipeline or Llama 3's
    (a BOS before every document): the export's documents are the trainer's token shards'."""
    texts = [" ".join(WORDS["general"] + WORDS["legal"])] * 20 + unfamiliar_texts(200)
    path = tmp_path / "tokenizer.json"
    if pipeline == "gpt2":
        byte_level_bpe(path, texts, ["<pad>", "<|end_of_text|>"], 450)
    else:
        llama3_style(path, texts, 450)
    eos = Tokenizer.from_file(str(path)).token_to_id("<|end_of_text|>")
    tokens = tmp_path / "tokens"
    tokenize_shards(shards, tokens, tiny_config(tokenizer={"path": str(path)}))
    out = tmp_path / "out"
    manifest = export(shards, CURRICULUM, FORMATS["megatron"], out, settings(path))
    assert manifest["eos"] == {"token": "<|end_of_text|>", "id": eos} and eos > 0
    for file in manifest["files"]:
        shard = shard_of(tokens, file)
        dataset = indexed_dataset.IndexedDataset(str(out / file["prefix"]))
        assert len(dataset) == len(shard.offsets) - 1 > 0
        for i in range(len(dataset)):
            assert (
                dataset[i].tolist()
                == shard.tokens[shard.offsets[i] : shard.offsets[i + 1]].tolist()
            )
            assert dataset[i][-1] == eos


def test_a_tokenizer_named_in_its_config_by_a_directory(shards, tmp_path):
    word_tokenizer(tmp_path / "tokenizer.json", specials=("<unk>", "<|im_end|>"))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|im_end|>"}))
    assert settings(tmp_path).tokenizer.eos_id == 1


def test_tokenizer_errors_write_nothing(shards, tmp_path):
    with pytest.raises(CritmixError, match="no tokenizer.json"):
        settings(tmp_path / "missing")
    no_eos = word_tokenizer(tmp_path / "tokenizer.json", specials=("<unk>",))
    with pytest.raises(CritmixError, match="no EOS token found.*set --eos to"):
        settings(no_eos)
    assert load_export_tokenizer(no_eos, "<unk>").eos_id == 0
    big = settings(word_tokenizer(tmp_path / "big.json", padding=70_000), dtype="uint16")
    with pytest.raises(CritmixError, match="70,0.. token ids do not fit"):
        export(shards, CURRICULUM, FORMATS["megatron"], tmp_path / "out", big)
    with pytest.raises(CritmixError, match="megatron token files are uint16, int32"):
        export(
            shards,
            CURRICULUM,
            FORMATS["megatron"],
            tmp_path / "out",
            settings(tmp_path / "big.json", dtype="uint32"),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.json", "tokenizer.json"]


@pytest.mark.parametrize(("format", "dtype"), [("megatron", "int32"), ("nanotron", "uint32")])
def test_a_large_vocabulary_gets_32_bit_tokens(shards, tmp_path, format, dtype):
    tokenizer = word_tokenizer(tmp_path / "big.json", padding=70_000)
    manifest = export(shards, CURRICULUM, FORMATS[format], tmp_path / "out", settings(tokenizer))
    assert manifest["dtype"] == dtype


def checksums(root):
    return {
        str(p.relative_to(root)): file_sha256(p) for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_one_and_two_workers_write_the_same_files(shards, tokens, tmp_path):
    out = tmp_path / "out"
    found = []
    for workers in (1, 2):
        run = settings(tokens / "tokenizer.json", curate=CurateConfig(workers=workers))
        export(shards, CURRICULUM, FORMATS["nanotron"], out, run)
        found.append(checksums(out))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no parts or logs left
    assert found[0] == found[1] and len(found[0]) == 5 * 3 + 3
