"""Heuristic filters and language id on one core, against datatrove.

On the same documents (a fixed sample of the demo corpus under ``data/raw/*/*.jsonl``, or
generated text when it has not been fetched):
1. keep/drop agreement of ``HeuristicFilters`` with datatrove's stock chain
   GopherQualityFilter -> GopherRepetitionFilter -> C4QualityFilter -> FineWebQualityFilter
   (target 100%), with the disagreements listed on stderr; then the same on generated text unlike
   the demo (man pages, manuals, fortunes: tests/stages/manual_synth.py);
2. docs per CPU second of both, taking turns (target >= 10x on both sets, in the same run);
3. docs/s of ``LanguageId`` against the same lid.176.ftz model called as datatrove's ``LanguageFilter`` calls it
   (the whole text, newlines replaced; datatrove's own class is not run because it downloads its model).

    .venv/bin/python bench/bench_filters.py [--docs 600]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datatrove.data import Document  # noqa: E402

from stages.ingest.heuristics import HeuristicFilters, HeuristicsConfig  # noqa: E402
from stages.ingest.langid import LanguageId, LanguageIdConfig  # noqa: E402


def demo_documents(limit: int, seed: int = 0) -> list[str]:
    """An equal share of every demo source, sampled with a fixed seed."""
    files = sorted(Path("data/raw").glob("*/*.jsonl"))
    per_file = max(1, limit // max(1, len(files)))
    texts = []
    for path in files:
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        random.Random(seed).shuffle(lines)
        texts += [json.loads(line)["text"] for line in lines[:per_file]]
    return texts


def generated_documents(limit: int, seed: int = 0) -> list[str]:
    """Prose-like, list-like, repetitive and code-like documents, so every rule family fires."""
    from tests.stages.ingest.heuristics_synth import generated_corpus

    return generated_corpus(limit, seed)


def datatrove_chain():
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    filters = [
        GopherQualityFilter(),
        GopherRepetitionFilter(),
        C4QualityFilter(),
        FineWebQualityFilter(),
    ]

    def keep(doc: Document) -> tuple[bool, str]:
        for step in filters:
            result = step.filter(doc)  # C4QualityFilter rewrites doc.text for the filters after it
            if result is not True:
                return False, f"{step.name}:{result[1]}"
        return True, ""

    return keep


def ours_chain():
    heuristics = HeuristicFilters(HeuristicsConfig())

    def keep(doc: Document) -> tuple[bool, str]:
        reason = heuristics.check(doc)
        return reason is None, reason or ""

    return keep


BATCH = 20  # documents each side filters in turn


def timed_in_turn(chains: list, texts: list[str]) -> list[tuple[list[tuple[bool, str]], float]]:
    """Each chain's verdicts and docs per CPU second. The chains take turns, BATCH documents at a time,
    and each is charged only its own CPU time, so that load from other processes, which changes while
    the bench runs, falls on both sides alike."""
    for keep in chains:  # each side loads its tokenizer rules once, outside the timing
        keep(Document(text=texts[0], id="warm-up"))
    results: list[list[tuple[bool, str]]] = [[] for _ in chains]
    seconds = [0.0 for _ in chains]
    for start in range(0, len(texts), BATCH):
        for side, keep in enumerate(chains):
            docs = [
                Document(text=text, id=str(start + i))
                for i, text in enumerate(texts[start : start + BATCH])
            ]
            started = time.process_time()
            results[side] += [keep(doc) for doc in docs]
            seconds[side] += time.process_time() - started
    return [(verdicts, len(texts) / spent) for verdicts, spent in zip(results, seconds)]


def langid_rates(texts: list[str]) -> tuple[float, float]:
    """docs/s of ``LanguageId`` and of datatrove's way: ``predict(doc.text.replace("\n", " "))`` on the whole text."""
    langid = LanguageId(LanguageIdConfig())
    docs = [Document(text=text, id=str(i)) for i, text in enumerate(texts)]
    langid.annotate(docs[0])  # loads the model
    started = time.perf_counter()
    for doc in docs:
        langid.annotate(doc)  # what the filter does to every document: label it, then judge it
        langid.check(doc)
    ours = len(docs) / (time.perf_counter() - started)
    started = time.perf_counter()
    for doc in docs:
        langid.model.predict(doc.text.replace("\n", " "), k=1)
    return ours, len(docs) / (time.perf_counter() - started)


def compare(texts: list[str], corpus: str) -> None:
    """Keep/drop agreement and docs/s of ours against datatrove's chain on ``texts``."""
    kb = sum(len(t) for t in texts) / len(texts) / 1024
    print(f"{len(texts)} documents from the {corpus}, {kb:.1f} KB of text on average")
    (ours, ours_rate), (theirs, theirs_rate) = timed_in_turn(
        [ours_chain(), datatrove_chain()], texts
    )
    disagreements = Counter(
        (o[1] or "kept", t[1] or "kept") for o, t in zip(ours, theirs) if o[0] != t[0]
    )
    for (ours_reason, their_reason), count in disagreements.most_common():
        print(
            f"  disagree x{count}: ours {ours_reason} / datatrove {their_reason}", file=sys.stderr
        )
    agreement = 1 - sum(disagreements.values()) / len(texts)
    dropped = sum(not o[0] for o in ours), sum(not t[0] for t in theirs)
    print(
        f"  heuristics keep/drop agreement: ours {agreement:.2%} vs datatrove chain 100% (target 100%; "
        f"dropped {dropped[0]} vs {dropped[1]} of {len(texts)})"
    )
    print(
        f"  heuristics: ours {ours_rate:,.0f} docs/CPU-s vs datatrove Gopher+GopherRep+C4+FineWeb "
        f"{theirs_rate:,.1f} docs/CPU-s = {ours_rate / theirs_rate:.1f}x (target >= 10x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--docs", type=int, default=600, help="documents to compare (an equal share per source)"
    )
    args = parser.parse_args()
    from tests.stages.manual_synth import manual_corpus

    texts = demo_documents(args.docs)
    corpus = "demo corpus"
    if not texts:
        texts, corpus = (
            generated_documents(args.docs),
            "generated documents (run `make corpus` for the demo corpus)",
        )
    compare(texts, corpus)
    compare(
        manual_corpus(args.docs),
        "generated man pages, manuals and fortunes (tests/stages/manual_synth.py)",
    )
    ours_rate, theirs_rate = langid_rates(texts)
    print(
        f"langid: ours {ours_rate:,.0f} docs/s vs lid.176 on the whole text as datatrove's LanguageFilter calls it "
        f"{theirs_rate:,.0f} docs/s = {ours_rate / theirs_rate:.1f}x (ours reads the first "
        f"{LanguageIdConfig().max_chars:,} characters)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
