"""Synthetic near-duplicates at known Jaccard, for testing and benchmarking MinHash dedup.

Each family starts from a base document of random words (a 4,000-word pseudo vocabulary, so two
families share practically no 5-gram) and adds variants made by word substitutions, insertions,
deletions and shuffled paragraphs, at edit rates (skewed to light edits) drawn so that their Jaccard to the base spreads
from about 0.2 to 1. Families never mix, so the true nearest neighbour of a document is found by
comparing it with its own family only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from stages.dedup.signatures import words
from stages.schema import WORK_SCHEMA


def shingle_set(text: str, ngram: int) -> set[tuple[str, ...]]:
    """The n-gram shingles MinHash signs (a short document is one shingle): the exact sets its estimates approximate."""
    tokens = words(text)
    if 0 < len(tokens) < ngram:
        return {tuple(tokens)}
    return {tuple(tokens[i : i + ngram]) for i in range(len(tokens) - ngram + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "ze",
    "pa",
    "do",
    "gu",
    "fe",
    "hi",
    "bo",
    "xa",
]


def vocabulary(rng: np.random.Generator, size: int = 4000) -> np.ndarray:
    words = {"".join(rng.choice(SYLLABLES, rng.integers(2, 5))) for _ in range(size * 2)}
    return np.array(sorted(words)[:size])


@dataclass
class Doc:
    id: str
    text: str
    family: int
    quality_score: float | None


def _text(
    tokens: np.ndarray, vocab: list[str], rng: np.random.Generator, shuffle: bool = False
) -> str:
    """Word indices -> text of four paragraphs, in shuffled order if asked."""
    words = [vocab[i] for i in tokens.tolist()]
    cuts = [0, *sorted(rng.integers(1, max(2, len(words)), 3).tolist()), len(words)]
    paragraphs = [" ".join(words[a:b]) for a, b in zip(cuts, cuts[1:]) if a < b]
    if shuffle:
        rng.shuffle(paragraphs)
    return "\n\n".join(paragraphs)


def mutate(tokens: np.ndarray, rate: float, vocab: list[str], rng: np.random.Generator) -> str:
    """Substitute, insert after or delete about ``rate`` of the words; sometimes shuffle paragraphs."""
    n = len(tokens)
    edit = np.where(
        rng.random(n) < rate, rng.integers(1, 4, n), 0
    )  # 1 substitute, 2 insert, 3 delete
    fresh = rng.integers(0, len(vocab), (2, n))
    copies = np.choose(edit, [1, 1, 2, 0])
    out = np.repeat(np.where(edit == 1, fresh[0], tokens), copies)
    out[np.cumsum(copies)[edit == 2] - 1] = fresh[1][edit == 2]
    return _text(out if len(out) else tokens, vocab, rng, shuffle=rng.random() < 0.3)


def make_corpus(
    families: int, variants: int, seed: int = 0, words: tuple[int, int] = (80, 300)
) -> list[Doc]:
    """``families`` base documents, each with ``variants`` near-duplicates; random ids."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng).tolist()
    docs = []
    for family in range(families):
        tokens = rng.integers(0, len(vocab), rng.integers(*words))
        texts = [_text(tokens, vocab, rng)]
        texts += [mutate(tokens, rate, vocab, rng) for rate in 0.2 * rng.random(variants) ** 2]
        ids = rng.integers(0, 2**40, len(texts))
        qualities = np.where(
            rng.random(len(texts)) < 0.2, np.nan, rng.random(len(texts)).astype(np.float32)
        )
        for text, id_, quality in zip(texts, ids.tolist(), qualities.tolist()):
            docs.append(Doc(f"d{id_:011x}", text, family, None if np.isnan(quality) else quality))
    return docs


def nearest_neighbour_jaccard(docs: list[Doc], ngram: int = 5) -> dict[str, float]:
    """True n-gram Jaccard of each document to its closest other document (0 if alone)."""
    sets = {d.id: shingle_set(d.text, ngram) for d in docs}
    best = {d.id: 0.0 for d in docs}
    for members in _by_family(docs).values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                j = jaccard(sets[a.id], sets[b.id])
                best[a.id], best[b.id] = max(best[a.id], j), max(best[b.id], j)
    return best


def pairs_above(docs: list[Doc], threshold: float, ngram: int = 5) -> list[tuple[str, str]]:
    sets = {d.id: shingle_set(d.text, ngram) for d in docs}
    return [
        (a.id, b.id)
        for members in _by_family(docs).values()
        for i, a in enumerate(members)
        for b in members[i + 1 :]
        if jaccard(sets[a.id], sets[b.id]) >= threshold
    ]


def _by_family(docs: list[Doc]) -> dict[int, list[Doc]]:
    families: dict[int, list[Doc]] = {}
    for d in docs:
        families.setdefault(d.family, []).append(d)
    return families


def work_table(docs: list[Doc]) -> pa.Table:
    """The documents as a work file (the input of a global stage)."""
    rows = [
        {
            "id": d.id,
            "text": d.text,
            "domain": "general",
            "source": "synth",
            "quality_score": d.quality_score,
            "n_chars": len(d.text),
            "n_tokens_est": (len(d.text) + 3) // 4,
            "text_hash": i,
        }
        for i, d in enumerate(docs)
    ]
    return pa.Table.from_pylist(rows, schema=WORK_SCHEMA)
