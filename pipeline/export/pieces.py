"""Encoding a batch of documents a distinct pre-token at a time, for the byte-level BPE tokenizers
whose pipeline allows it (the run's own BPE, GPT-2's): the ids equal the library's encode's.

Such a tokenizer splits a text with the GPT-2 pattern and runs BPE on each piece alone, so a piece's
ids do not depend on its neighbours: the pieces of the batch are split here, the distinct ones
(a few thousand in a file of a million) encoded once by the library, and every document's ids
gathered from them with numpy. That is about 3x the library's whole-document encode on one core,
which spends most of its time building a per-token Encoding. Kept to what is certain to split alike:
ASCII documents with no control character that Python's and the library's regex may class
differently, and none holding an added token's text (the library matches those first); every other
document goes through the library."""

from __future__ import annotations

import itertools
import json

import numpy as np
import regex
from tokenizers import Tokenizer

# tokenizers' ByteLevel pre-tokenizer pattern (pre_tokenizers/byte_level.rs)
GPT2_SPLIT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
# whitespace to Python's str, not to Unicode's White_Space
UNCERTAIN_CHARS = regex.compile(r"[\x1c-\x1f]")


def splits_by_piece(tokenizer: Tokenizer) -> bool:
    """Whether the tokenizer's ids are those of its GPT-2 pieces, each encoded alone."""
    spec = json.loads(tokenizer.to_str())
    pre = spec.get("pre_tokenizer") or {}
    model = spec.get("model") or {}
    post = spec.get("post_processor")
    return (
        spec.get("normalizer") is None
        and pre.get("type") == "ByteLevel"
        and pre.get("add_prefix_space") is False
        and pre.get("use_regex", True) is True
        and model.get("type") == "BPE"
        and model.get("dropout") is None
        and (post is None or post.get("type") == "ByteLevel")
    )


class PieceEncoder:
    """Encodes documents, each followed by ``eos_id``, into one token array and their lengths."""

    def __init__(self, tokenizer: Tokenizer, eos_id: int):
        self.tokenizer = tokenizer
        self.eos_id = eos_id
        self.by_piece = splits_by_piece(tokenizer)
        added = [token.content for token in tokenizer.get_added_tokens_decoder().values()]
        self.added = regex.compile("|".join(map(regex.escape, added))) if added else None

    def certain(self, text: str) -> bool:
        return (
            text.isascii()
            and not UNCERTAIN_CHARS.search(text)
            and not (self.added and self.added.search(text))
        )

    def encode(self, texts: list[str], dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """All the documents' tokens, concatenated, and each one's length (its EOS included)."""
        by_piece = [i for i, t in enumerate(texts) if self.certain(t)] if self.by_piece else []
        chosen = set(by_piece)
        rest = [i for i in range(len(texts)) if i not in chosen]
        encoded: dict[int, np.ndarray] = {}
        if by_piece:
            tokens, lengths = self.encode_pieces([texts[i] for i in by_piece])
            ends = np.cumsum(lengths)
            encoded.update(zip(by_piece, np.split(tokens, ends[:-1])))
        for i, e in zip(rest, self.tokenizer.encode_batch_fast([texts[i] for i in rest])):
            encoded[i] = np.array(e.ids + [self.eos_id], dtype=np.int64)
        documents = [encoded[i] for i in range(len(texts))]
        lengths = np.array([len(d) for d in documents], dtype=np.int64)
        return np.concatenate(documents).astype(dtype), lengths

    def encode_pieces(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each text's pieces' ids, then the EOS (the piece ``None``), by gathering from the distinct pieces."""
        split = [GPT2_SPLIT.findall(text) for text in texts]
        for pieces in split:
            pieces.append(None)
        flat_pieces = list(itertools.chain.from_iterable(split))
        # the distinct pieces, first seen first, the EOS first of all
        distinct = dict.fromkeys(itertools.chain([None], flat_pieces))
        index = {p: i for i, p in enumerate(distinct)}
        indices = np.fromiter(map(index.__getitem__, flat_pieces), np.int64, len(flat_pieces))
        pieces = list(distinct)[1:]
        ids = [[self.eos_id]] + [e.ids for e in self.tokenizer.encode_batch_fast(pieces)]
        piece_lengths = np.array([len(i) for i in ids], dtype=np.int64)
        flat = np.array([token for piece in ids for token in piece], dtype=np.int64)
        piece_starts = np.cumsum(piece_lengths) - piece_lengths
        token_counts = piece_lengths[indices]
        # position of each output token in ``flat``: its piece's start plus its rank within the piece
        run_starts = np.cumsum(token_counts) - token_counts
        positions = np.repeat(piece_starts[indices] - run_starts, token_counts)
        positions += np.arange(len(positions))
        doc_ends = np.cumsum([len(pieces) for pieces in split])
        lengths = np.add.reduceat(token_counts, np.concatenate([[0], doc_ends[:-1]]))
        return flat[positions], lengths
