"""Gopher's n-gram repetition statistics over word ids, with numpy instead of joined strings.

``top_ngram_chars`` and ``repeated_ngram_chars`` give what datatrove's ``find_top_duplicate`` and
``find_all_duplicate`` give on the words themselves (tests compare them on random word sequences).
"""

from __future__ import annotations

import numpy as np

HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so distinct id windows rarely collide


class NgramKeys:
    """Keys of a document's word n-grams, equal for equal n-grams: a 64-bit polynomial hash of the word ids
    (collisions are ~n²/2⁶⁴ per document). Asked for growing n (as the rules are), each n's keys extend
    the previous n's instead of starting again."""

    def __init__(self, word_ids: np.ndarray):
        self.word_ids = word_ids.astype(np.uint64)
        self.n, self.keys = 1, self.word_ids

    def __call__(self, n: int) -> np.ndarray:
        if n < self.n:
            self.n, self.keys = 1, self.word_ids
        while self.n < n:
            self.keys = self.keys[:-1] * HASH_BASE + self.word_ids[self.n :]
            self.n += 1
        return self.keys


def top_ngram_chars(keys: np.ndarray, lengths: np.ndarray, n: int) -> int:
    """Characters of the most frequent n-gram times its count; ties go to the first seen, as in
    ``Counter.most_common``. An n-gram's characters include the spaces that join its words."""
    order = np.argsort(keys, kind="stable")  # stable: each key's run starts at its first occurrence
    sorted_keys = keys[order]
    run_starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    counts = np.diff(np.append(run_starts, len(keys)))
    top = counts.max()
    start = int(order[run_starts[counts == top]].min())
    return (int(lengths[start : start + n].sum()) + n - 1) * int(top)


def repeated_ngram_chars(
    keys: np.ndarray, lengths: np.ndarray, n: int, enough: float = -1
) -> float:
    """Characters in n-grams that repeat an earlier one, scanning as datatrove's ``find_all_duplicate``
    does: a repeat is counted and its words skipped. The scan counts only positions whose n-gram
    occurred before, so when even all of those hold at most ``enough`` characters, that bound is
    returned instead of scanning. 0 means no n-gram repeats (nor, then, any longer one)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    same = sorted_keys[1:] == sorted_keys[:-1]
    later = np.zeros(len(keys), dtype=bool)
    later[order[1:][same]] = True
    candidates = np.flatnonzero(later)
    if not len(candidates):
        return 0
    ngram_chars = np.convolve(lengths, np.ones(n, dtype=np.int64), mode="valid")
    bound = int(ngram_chars[candidates].sum())
    if bound <= enough:
        return bound
    ids = np.empty(len(keys), dtype=np.int64)
    ids[order] = np.concatenate(([0], np.cumsum(~same)))
    seen = np.zeros(int(ids.max()) + 1, dtype=bool)
    chars, idx = 0, 0
    for position in candidates:
        if position < idx:
            continue
        seen[ids[idx:position]] = True
        if seen[ids[position]]:
            chars += int(ngram_chars[position])
            idx = int(position) + n
        else:
            seen[ids[position]] = True
            idx = int(position) + 1
    return chars
