"""A document's words as ids into one table per process, so that the rules count with numpy, not word by word.

Every distinct whitespace-separated chunk is split once by ``EnglishWords``; the table keeps its
token ids (a slice of one flat array) and, once per distinct token, what the rules ask of a word:
its length, whether it has a character that is not punctuation (Gopher's non-symbol words) or a
letter (Gopher's alpha words), and its role in spaCy's sentencizer (C4's sentence count). A
document is then its chunks' ids gathered into one array of token ids, with the token offset of
every line: no Python object per word.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from itertools import chain

import numpy as np
from datatrove.utils.text import PUNCTUATION_SET

from stages.ingest.words import EnglishWords, english_words

MAX_CHUNKS = 500_000  # chunks remembered before the table starts again (a few hundred MB at most)
# A token's part in spaCy's sentencizer: a sentence end, other punctuation, or a word.
WORD, PUNCT, END = 0, 1, 2
ASCII_PUNCTUATION = frozenset(
    c for c in map(chr, range(128)) if unicodedata.category(c).startswith("P")
)


class Growing:
    """A one-dimensional numpy array that is appended to, doubling its room as it fills."""

    def __init__(self, dtype):
        self.data = np.empty(1024, dtype=dtype)
        self.size = 0

    def extend(self, values: list) -> None:
        end = self.size + len(values)
        if end > len(self.data):
            grown = np.empty(max(end, 2 * len(self.data)), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = values
        self.size = end

    @property
    def values(self) -> np.ndarray:
        return self.data[: self.size]


class TokenTable:
    """Chunk -> token ids, and per token id its length, ``non_symbol``, ``alpha`` and sentencizer ``role``."""

    def __init__(self, words: EnglishWords):
        self.words = words
        self.clear()

    def clear(self) -> None:
        self.chunk_ids: dict[str, int] = {}
        self.token_ids: dict[str, int] = {}
        self.chunk_start, self.chunk_size = Growing(np.int64), Growing(np.int64)
        self.pool = Growing(np.int64)  # every chunk's token ids, chunk after chunk
        self.length, self.role = Growing(np.int64), Growing(np.int8)
        self.non_symbol, self.alpha = Growing(np.bool_), Growing(np.bool_)

    def ids(self, chunks: list[str]) -> np.ndarray:
        """The chunks' ids; chunks not seen before are split and added first."""
        found = list(map(self.chunk_ids.get, chunks))
        if None in found:
            self.add([chunk for chunk, id_ in zip(chunks, found) if id_ is None])
            found = list(map(self.chunk_ids.__getitem__, chunks))
        return np.array(found, dtype=np.int64)

    def add(self, chunks: list[str]) -> None:
        starts: list[int] = []
        sizes: list[int] = []
        pool: list[int] = []
        new_tokens: list[str] = []
        token_ids, first_new = self.token_ids, self.length.size
        for chunk in dict.fromkeys(chunks):
            self.chunk_ids[chunk] = self.chunk_start.size + len(starts)
            starts.append(self.pool.size + len(pool))
            tokens = self.words.chunk_tokens(chunk)
            sizes.append(len(tokens))
            for token in tokens:
                id_ = token_ids.get(token)
                if id_ is None:
                    id_ = token_ids[token] = first_new + len(new_tokens)
                    new_tokens.append(token)
                pool.append(id_)
        self.chunk_start.extend(starts)
        self.chunk_size.extend(sizes)
        self.pool.extend(pool)
        self.length.extend(list(map(len, new_tokens)))
        self.non_symbol.extend([not PUNCTUATION_SET.issuperset(token) for token in new_tokens])
        self.alpha.extend(list(map(has_letter, new_tokens)))
        self.role.extend(list(map(self.sentence_role, new_tokens)))

    def sentence_role(self, token: str) -> int:
        if token in self.words.sentence_ends:
            return END
        if ASCII_PUNCTUATION.issuperset(token) if token.isascii() else all_punctuation(token):
            return PUNCT
        return WORD


def has_letter(token: str) -> bool:
    """A character with ``str.isalpha`` (Gopher's alpha words); in ASCII, the letters are what has a case."""
    if token.isascii():
        return token.lower() != token.upper()
    return any(char.isalpha() for char in token)


def all_punctuation(token: str) -> bool:
    return all(unicodedata.category(char).startswith("P") for char in token)


def sentences_per_line(roles: np.ndarray, line_bounds: np.ndarray) -> np.ndarray:
    """How many sentences spaCy's sentencizer (datatrove's C4 filter) finds in each line: one, and another at
    each word whose last token before it, punctuation that ends no sentence aside, ends a sentence."""
    line_of = np.repeat(np.arange(len(line_bounds) - 1), np.diff(line_bounds))
    counted = roles != PUNCT
    roles, line_of = roles[counted], line_of[counted]
    starts = (roles[1:] == WORD) & (roles[:-1] == END) & (line_of[1:] == line_of[:-1])
    return 1 + np.bincount(line_of[1:][starts], minlength=len(line_bounds) - 1)


class DocumentWords:
    """One document split once: ``lines``, their whitespace chunks, ``tokens`` (token ids, every line's in
    turn) and ``line_bounds`` (line i's tokens are ``tokens[line_bounds[i]:line_bounds[i + 1]]``)."""

    def __init__(self, text: str, table: TokenTable):
        if len(table.chunk_ids) >= MAX_CHUNKS:
            table.clear()
        self.text, self.table = text, table
        self.lines = text.splitlines()
        self.line_chunks = [line.split() for line in self.lines]
        self.tokens, chunk_bounds = gather(table, list(chain.from_iterable(self.line_chunks)))
        chunks_per_line = np.fromiter(map(len, self.line_chunks), np.int64, len(self.lines))
        self.line_bounds = chunk_bounds[np.concatenate(([0], np.cumsum(chunks_per_line)))]

    def property(self, values: Growing) -> np.ndarray:
        """A per-token property (``table.length``, ``table.alpha`` ...) of every token of the document."""
        return values.values[self.tokens]


def gather(table: TokenTable, chunks: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The chunks' token ids, end to end, and the token offset where each chunk starts (and, last, the count)."""
    ids = table.ids(chunks)
    sizes = table.chunk_size.values[ids]
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    positions = np.arange(bounds[-1]) + np.repeat(
        table.chunk_start.values[ids] - bounds[:-1], sizes
    )
    return table.pool.values[positions], bounds


def line_tokens(table: TokenTable, line: str) -> np.ndarray:
    """Token ids of one line (C4 retokenizes a line it removed citations from)."""
    return gather(table, line.split())[0]


@cache
def token_table() -> TokenTable:
    """The process's table, so that every filter shares what it remembers."""
    return TokenTable(english_words())
