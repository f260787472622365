"""Metadata conditioning: the filled template ahead of every document a sequence holds, its tokens
carry no loss, content is never skipped, and the cooldown steps are plain text."""
import numpy as np
import pytest
from tokenizers import Tokenizer

from trainer.curriculum import SequenceSpec
from trainer.data.loader import IGNORE, PhaseLoader, Sampling, phase_buckets
from core.errors import ConfigError
from trainer.data.index import build_index
from trainer.data.meco import Prefixer

from tests.trainer.conftest import two_domain_phase

SEQ = 32
TEMPLATE = "{source} {domain}\n\n"
SHORT = "{domain}\n"  # the tiny test vocabulary spends 16 tokens on TEMPLATE


@pytest.fixture
def tokenizer(tokens_dir):
    return Tokenizer.from_file(str(tokens_dir / "tokenizer.json"))


def test_prefixes_precede_every_document_and_content_is_never_skipped(tokens_dir, tokenizer):
    shard = phase_buckets(tokens_dir, two_domain_phase())[0].shard
    prefixer = Prefixer(TEMPLATE, tokenizer)
    prefix = prefixer.ids(shard.fields(0))
    assert tokenizer.decode(prefix.tolist()) == "synthetic general\n\n"
    # From the last 5 tokens of document 0: its prefix, those 5, then document 1's prefix and its start.
    start = int(shard.offsets[1]) - 5
    tokens, is_prefix = prefixer.sequence(shard, start, 64)
    p = len(prefix)
    assert is_prefix.tolist() == [True] * p + [False] * 5 + [True] * p + [False] * (65 - 2 * p - 5)
    assert (tokens[is_prefix] == np.concatenate([prefix, prefix])).all()
    content = tokens[~is_prefix]
    assert (content == shard.tokens[start:start + len(content)]).all()
    assert content[4] == 0  # document 0's EOS, then document 1 after its prefix


def test_prefix_targets_are_masked_and_the_cooldown_is_plain(tokens_dir, tokenizer):
    phase = two_domain_phase(tokens=4096)
    phase.sequence = SequenceSpec(mode="decomposed", lengths={16: 1, 32: 1})
    buckets = phase_buckets(tokens_dir, phase)
    index = build_index(phase, buckets, 32, Sampling(seq_len=SEQ, global_batch=4, seed=0, max_epochs=100))
    prefixer = Prefixer(SHORT, tokenizer)
    loader = PhaseLoader(index, buckets, prefixer, prefix_steps=29)
    plain = PhaseLoader(index, buckets)
    for step in range(len(loader)):
        inputs, targets = loader.micro_batch(step, 0, 1)
        plain_inputs, plain_targets = plain.micro_batch(step, 0, 1)
        masked = targets == IGNORE
        if step < 29:
            # Every sequence is a piece of one document: exactly one prefix, at its start, none of it a target.
            prefix_lengths = {len(prefixer.ids({"domain": d})) for d in ("general", "legal")}
            assert all(int(row.sum()) + 1 in prefix_lengths and not row[int(row.sum()):].any() for row in masked)
            first = masked.int().argmin(dim=1)  # the first target after the prefix is the piece's first token
            assert (inputs[range(len(inputs)), first + 1] == plain_inputs[:, 0]).all()
        else:
            assert not masked.any() and (inputs == plain_inputs).all() and (targets == plain_targets).all()


def test_a_template_longer_than_half_a_sequence_is_refused(tokens_dir, tokenizer):
    shard = phase_buckets(tokens_dir, two_domain_phase())[0].shard
    with pytest.raises(ConfigError, match="shorten the template"):
        Prefixer("{source} {domain} " * 8, tokenizer).sequence(shard, 0, 16)
