import hashlib

from trainer.data.tokenize import hf_tokenizer, metadata_fields, tokenize_shards
from trainer.data.tokens import TokenShard, bucket_stem, val_stem

from tests.trainer.conftest import folder_digest, tiny_config



def test_tokenizer_round_trip(tokens_dir):
    tokenizer = hf_tokenizer(tokens_dir)
    text = "the licensee shall grant a warranty over green hills.\nNew line, Ünïcode ✓"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_token_shards_are_deterministic_and_skipped_when_up_to_date(shards_dir, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    tokenize_shards(shards_dir, first, tiny_config())
    tokenize_shards(shards_dir, second, tiny_config())
    assert folder_digest(first) == folder_digest(second)
    header = bucket_stem(first, "general", "high/long").with_suffix(".json")
    mtime = header.stat().st_mtime_ns
    assert tokenize_shards(shards_dir, first, tiny_config()) == {"general": [], "legal": []}
    assert header.stat().st_mtime_ns == mtime


def test_every_document_lands_once_in_train_or_validation(tokens_dir):
    shards = [TokenShard(bucket_stem(tokens_dir, "general", k)) for k in ("high/long", "mid/short")]
    shards.append(TokenShard(val_stem(tokens_dir, "general")))
    assert sum(s.header["documents"] for s in shards) == 120
    for shard in shards:
        assert shard.offsets[-1] == len(shard) and (shard.tokens[shard.offsets[1:] - 1] == 0).all()


def test_other_piece_lengths_retokenize_and_documents_keep_their_metadata_fields(shards_dir, tmp_path):
    tokenize_shards(shards_dir, tmp_path, tiny_config())
    shard = TokenShard(bucket_stem(tmp_path, "legal", "high/long"))
    assert set(shard.header["pieces"]) == {"8", "16", "32"}
    assert shard.fields(0) == {"source": "synthetic", "domain": "legal"}
    tokenize_shards(shards_dir, tmp_path, tiny_config(data={"min_piece": 16}))
    assert set(TokenShard(bucket_stem(tmp_path, "legal", "high/long")).header["pieces"]) == {"16", "32"}


def test_title_and_url_come_from_meta_when_the_source_has_them():
    assert metadata_fields("legal", "gutenberg", '{"title": "Bleak House", "page": 3}') == \
        {"source": "gutenberg", "domain": "legal", "title": "Bleak House"}
    assert metadata_fields("web", "crawl", '{"url": "https://a.example/x", "title": ""}') == \
        {"source": "crawl", "domain": "web", "url": "https://a.example/x"}
