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

from stages.minhash import jaccard, shingle_set
from stages.schema import WORK_SCHEMA

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "gu", "fe", "hi", "bo", "xa"]


def vocabulary(rng: np.random.Generator, size: int = 4000) -> np.ndarray:
    words = {"".join(rng.choice(SYLLABLES, rng.integers(2, 5))) for _ in range(size * 2)}
    return np.array(sorted(words)[:size])


@dataclass
class Doc:
    id: str
    text: str
    family: int
    quality_score: float | None


def _paragraphs(tokens: list[str], rng: np.random.Generator) -> list[list[str]]:
    cuts = sorted(rng.choice(np.arange(1, len(tokens)), size=min(3, len(tokens) - 1), replace=False))
    return [tokens[a:b] for a, b in zip([0, *cuts], [*cuts, len(tokens)])]


def mutate(tokens: list[str], rate: float, vocab: np.ndarray, rng: np.random.Generator) -> str:
    """Substitute, insert or delete about ``rate`` of the words, sometimes shuffle paragraphs."""
    out = []
    for token in tokens:
        if rng.random() >= rate:
            out.append(token)
            continue
        edit = rng.integers(3)
        if edit == 0:
            out.append(str(rng.choice(vocab)))
        elif edit == 1:
            out.extend([token, str(rng.choice(vocab))])
    paragraphs = _paragraphs(out or tokens, rng)
    if rng.random() < 0.3:
        rng.shuffle(paragraphs)
    return "\n\n".join(" ".join(p) for p in paragraphs)


def make_corpus(families: int, variants: int, seed: int = 0, words: tuple[int, int] = (80, 300)) -> list[Doc]:
    """``families`` base documents, each with ``variants`` near-duplicates; ids shuffled."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    docs = []
    for family in range(families):
        tokens = [str(w) for w in rng.choice(vocab, rng.integers(*words))]
        texts = ["\n\n".join(" ".join(p) for p in _paragraphs(tokens, rng))]
        texts += [mutate(tokens, rate, vocab, rng) for rate in 0.2 * rng.random(variants) ** 2]
        for text in texts:
            quality = None if rng.random() < 0.2 else float(np.float32(rng.random()))
            docs.append(Doc(f"d{rng.integers(2**40):011x}", text, family, quality))
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
        {"id": d.id, "text": d.text, "domain": "general", "source": "synth", "quality_score": d.quality_score,
         "n_chars": len(d.text), "n_tokens_est": (len(d.text) + 3) // 4, "text_hash": i}
        for i, d in enumerate(docs)
    ]
    return pa.Table.from_pylist(rows, schema=WORK_SCHEMA)
