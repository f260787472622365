"""The scale bench's synthetic corpus: English-like prose in lines of sentences, 10% of it a reference source for
the quality model, 3% exact copies and 5% near-duplicates, in JSONL files, with spam e-mails as negatives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

STOP = "the of and to in a is that for it as was with be by on not he this are or his from at which but have an they".split()
CONTENT = (
    "river valley settlement century scholars architecture language trade region evidence survey village market "
    "farmer letter garden lake spring bread wheel water morning house children committee records history city "
    "road bridge harbour ship merchant winter summer field forest mountain church school teacher student book "
    "paper report council family friend journey letter story music painting science engine railway station "
    "island coast weather harvest grain cattle mill factory worker street window table kitchen evening night "
    "described examined compared grew built opened carried reached followed noticed returned explained written "
    "old new small large early late careful quiet long short bright dark northern southern local public"
).split()
SPAM = "click here now to win free money cheap pills buy today limited offer act fast guaranteed cash prize claim reward".split()
DOCS_PER_FILE = 10_000


def sentences(rng: np.random.Generator, n_words: int) -> str:
    """Lines of sentences with stop words mixed in, as the heuristic filters expect of prose."""
    vocabulary = np.array(STOP + CONTENT)
    weights = np.r_[np.full(len(STOP), 3.0), np.ones(len(CONTENT))]
    chosen = vocabulary[rng.choice(len(vocabulary), n_words, p=weights / weights.sum())]
    lines, start = [], 0
    while start < n_words:
        line = []
        for _ in range(int(rng.integers(2, 5))):
            length = int(rng.integers(8, 18))
            words = chosen[start : start + length]
            if len(words):
                line.append(" ".join(words).capitalize() + ".")
            start += length
        lines.append(" ".join(line))
    return "\n".join(lines)


def make_corpus(root: Path, docs: int, seed: int = 0, docs_per_file: int = DOCS_PER_FILE) -> Path:
    """``docs`` documents in JSONL files of ``docs_per_file`` under ``root/corpus-<docs>[-<per file>]`` (kept
    between runs), and spam e-mails."""
    corpus = root / (
        f"corpus-{docs}" + ("" if docs_per_file == DOCS_PER_FILE else f"-{docs_per_file}")
    )
    if (corpus / "done").exists():
        return corpus
    shutil.rmtree(corpus, ignore_errors=True)
    (corpus / "web").mkdir(parents=True)
    (corpus / "reference").mkdir()
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for _ in range(docs):
        roll = rng.random()
        if texts and roll < 0.03:
            texts.append(texts[int(rng.integers(len(texts)))])
        elif texts and roll < 0.08:
            words = texts[int(rng.integers(len(texts)))].split(" ")
            for j in rng.integers(0, len(words), max(1, len(words) // 30)):
                words[j] = str(rng.choice(CONTENT))
            texts.append(" ".join(words))
        else:
            texts.append(sentences(rng, int(rng.integers(80, 350))))
    for part, (first, last) in (("reference", (0, docs // 10)), ("web", (docs // 10, docs))):
        for start in range(first, last, docs_per_file):
            with (corpus / part / f"part-{start // docs_per_file:05d}.jsonl").open("w") as handle:
                for i in range(start, min(last, start + docs_per_file)):
                    handle.write(json.dumps({"id": f"doc-{i:08d}", "text": texts[i]}) + "\n")
    with (corpus / "spam.jsonl").open("w") as handle:
        for i in range(3000):
            handle.write(
                json.dumps({"id": f"spam-{i}", "text": " ".join(rng.choice(SPAM, 60)) + "."}) + "\n"
            )
    (corpus / "done").touch()
    return corpus
