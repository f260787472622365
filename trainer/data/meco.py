"""Metadata conditioning (MeCo, Gao et al. 2025): sequences with their documents' metadata ahead of them.

``Prefixer(template, tokenizer).sequence(shard, start, length)`` returns the ``length + 1`` tokens a
sample at ``start`` reads, with the filled template ahead of the document the sample starts in and
ahead of every document that starts inside it, and which of them are prefix tokens (their loss is
masked). The prefixes take the place of content at the sample's end, so samples keep their length
and every step its tokens; a piece of a decomposed document thus stays inside its document.
"""
from __future__ import annotations

import collections

import numpy as np
from tokenizers import Tokenizer

from core.errors import ConfigError
from trainer.data.tokens import TokenShard


class Prefixer:
    def __init__(self, template: str, tokenizer: Tokenizer):
        self.template, self.tokenizer = template, tokenizer
        self.cache: dict[str, np.ndarray] = {}  # filled template -> token ids

    def ids(self, fields: dict) -> np.ndarray:
        text = self.template.format_map(collections.defaultdict(str, fields))
        if text not in self.cache:
            # without the tokenizer's BOS or template: the prefix goes before a document that has them
            self.cache[text] = np.array(self.tokenizer.encode(text, add_special_tokens=False).ids, dtype=np.int64)
        return self.cache[text]

    def sequence(self, shard: TokenShard, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        tokens = np.empty(length + 1, dtype=np.int64)
        is_prefix = np.zeros(length + 1, dtype=bool)
        filled, position, document = 0, start, shard.document_at(start)
        while filled <= length:
            prefix = self.ids(shard.fields(document))
            if len(prefix) > length // 2:
                raise ConfigError(f"metadata.template fills to {len(prefix)} tokens for a document of {shard.stem}, "
                                  f"over half of a {length}-token sequence; shorten the template or train on "
                                  "longer sequences")
            take = min(len(prefix), length + 1 - filled)
            tokens[filled:filled + take] = prefix[:take]
            is_prefix[filled:filled + take] = True
            filled += take
            take = min(int(shard.offsets[document + 1]) - position, length + 1 - filled)
            tokens[filled:filled + take] = shard.tokens[position:position + take]
            filled, position, document = filled + take, position + take, document + 1
        return tokens, is_prefix
