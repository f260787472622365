"""Generated documents for the heuristic filters: prose, lists, repetitive pages and code.

Each kind is drawn with random sizes so that documents land on both sides of several
thresholds; ``bench/bench_filters.py`` falls back to them when the demo corpus is absent.
"""

from __future__ import annotations

import random

STOP = ["the", "of", "and", "to", "with", "that", "be", "have"]
CONTENT = (
    "river valley record trade survey region village market harbour winter season council bridge "
    "mill farmer letter journey mountain forest church castle garden history station railway "
    "school teacher doctor window kitchen evening morning summer ancient careful quiet narrow "
    "northern southern measured counted written painted carried gathered opened crossed"
).split()


def sentence(rng: random.Random, words: int) -> str:
    picked = [rng.choice(STOP if rng.random() < 0.35 else CONTENT) for _ in range(words)]
    return " ".join(picked).capitalize() + rng.choice([".", ".", ".", "!", "?"])


def prose(rng: random.Random) -> str:
    paragraphs = []
    for _ in range(rng.randint(1, 6)):
        paragraphs.append(
            " ".join(sentence(rng, rng.randint(6, 18)) for _ in range(rng.randint(1, 5)))
        )
    return "\n\n".join(paragraphs)


def bullet_list(rng: random.Random) -> str:
    items = [
        f"- {' '.join(rng.choice(CONTENT) for _ in range(rng.randint(1, 6)))}"
        for _ in range(rng.randint(5, 40))
    ]
    return sentence(rng, 12) + "\n" + "\n".join(items)


def repetitive(rng: random.Random) -> str:
    lines = [sentence(rng, rng.randint(5, 15)) for _ in range(rng.randint(4, 12))]
    return "\n".join(rng.choice(lines) for _ in range(rng.randint(8, 30)))


def code(rng: random.Random) -> str:
    body = [
        f"    {rng.choice(CONTENT)} = {rng.choice(CONTENT)}({rng.randint(0, 99)})"
        for _ in range(rng.randint(3, 20))
    ]
    return f"def {rng.choice(CONTENT)}():\n" + "\n".join(body) + "\n    return {}\n"


KINDS = (prose, prose, prose, bullet_list, repetitive, code)


def generated_corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(KINDS)(rng) for _ in range(n)]
