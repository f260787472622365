"""train.tokenizer.path: the user's own tokenizer, built here offline, with another EOS and vocabulary
size than the run's BPE, through tokenizing and a short training run; and the errors when no EOS
can be found."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from core.errors import ConfigError
from tests.offline_tokenizers import byte_level_bpe, unfamiliar_texts, wordpiece_dir
from tests.trainer.conftest import tiny_config, two_domain_phase
from trainer.curriculum import Curriculum
from trainer.data.tokenize import tokenize_shards
from trainer.data.tokens import TokenShard, bucket_stem
from trainer.loop import train


def shard_texts(shards_dir) -> list[str]:
    return pq.read_table(shards_dir / "domain=legal/quality=high/part-long.parquet")[
        "text"
    ].to_pylist()


def user_tokenizer(kind: str, shards_dir, folder):
    """(path, EOS token, its id) of a byte-level BPE ending documents with <|end_of_text|> (found
    by name) or a WordPiece directory whose tokenizer_config.json names [END]."""
    texts = shard_texts(shards_dir) + unfamiliar_texts(200)
    if kind == "bpe":
        specials = ["<pad>", "<s>", "<|end_of_text|>"]
        return byte_level_bpe(folder / "bpe.json", texts, specials, 517), "<|end_of_text|>", 2
    return wordpiece_dir(folder / "wordpiece", texts), "[END]", 2


@pytest.mark.parametrize("kind", ["bpe", "wordpiece"])
def test_the_tokenizers_own_eos_ends_documents_and_a_short_run_trains(shards_dir, tmp_path, kind):
    path, eos, eos_id = user_tokenizer(kind, shards_dir, tmp_path)
    config = tiny_config(tokenizer={"path": str(path)})
    tokens = tmp_path / "tokens"
    tokenize_shards(shards_dir, tokens, config)
    assert json.loads((tokens / "tokenizer_config.json").read_text()) == {"eos_token": eos}
    shard = TokenShard(bucket_stem(tokens, "legal", "high/long"))
    assert shard.header["eos"] == eos
    ends = shard.offsets[1:] - 1
    assert (shard.tokens[ends] == eos_id).all() and (shard.tokens == eos_id).sum() == len(ends)

    curriculum = Curriculum(phases=[two_domain_phase("cpt", tokens=512, init="scratch")])
    final = train(config, curriculum, tokens, tmp_path / "out")
    model = AutoModelForCausalLM.from_pretrained(final)
    vocab = AutoTokenizer.from_pretrained(final)
    assert model.config.eos_token_id == model.config.pad_token_id == eos_id
    assert model.config.vocab_size == len(vocab) and len(vocab) != 300
    assert vocab.eos_token == eos and vocab.eos_token_id == eos_id


def test_a_tokenizer_with_no_eos_is_one_line_naming_the_key(shards_dir, tmp_path):
    path = byte_level_bpe(tmp_path / "bpe.json", shard_texts(shards_dir), ["<pad>", "<end>"], 300)
    with pytest.raises(
        ConfigError, match=r"no EOS token found.*set train\.tokenizer\.eos to .*<end>"
    ):
        tokenize_shards(shards_dir, tmp_path / "tokens", tiny_config(tokenizer={"path": str(path)}))
    with pytest.raises(ConfigError, match=r"train\.tokenizer\.eos '</s>': .* has no such token"):
        config = tiny_config(tokenizer={"path": str(path), "eos": "</s>"})
        tokenize_shards(shards_dir, tmp_path / "tokens", config)
    assert not (tmp_path / "tokens").exists()
    config = tiny_config(tokenizer={"path": str(path), "eos": "<end>"})
    tokenize_shards(shards_dir, tmp_path / "tokens", config)
    shard = TokenShard(bucket_stem(tmp_path / "tokens", "legal", "high/long"))
    assert shard.tokens[-1] == 1
