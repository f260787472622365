"""Regenerate the tiny fixtures (curation tests, and the corpus of configs/tiny.yaml): `python tests/data/tiny/generate.py`.

Documents are distinct English prose (so only the planted duplicates are merged, and the
heuristic filters and language id keep them), plus a few planted faults: one exact duplicate
per source, an empty document and a broken JSON line.
"""
import json
import random
from pathlib import Path

HERE = Path(__file__).parent
SUBJECTS = "the farmer|a young teacher|the old miller|my grandmother|the new doctor|a tired sailor|the mayor|our neighbour|the baker|a quiet student|the captain|her brother".split("|")
VERBS = "carried|painted|repaired|described|noticed|discovered|borrowed|cleaned|measured|photographed|remembered|sold".split("|")
OBJECTS = "a wooden chair|the broken clock|an empty basket|the long letter|a heavy coat|the narrow boat|a silver spoon|the blue door|a small garden|the village map|an old violin|the winter stove".split("|")
PLACES = "near the river|behind the church|in the market|at the station|under the bridge|beside the lake|on the hill|in the library|at the harbour|by the mill|in the square|at the school".split("|")
TIMES = "early in the morning|after the storm|before dinner|during the festival|on a cold evening|late that summer|when the rain stopped|in the spring|at noon|on Sunday".split("|")
CLAUSES = "because it was needed|and nobody asked why|although it was late|so that everyone could see it|while the others waited|and then went home|as the bells rang|which surprised the family".split("|")
LEGAL_TERMS = "the Licensee|the Licensor|the Contributor|any Recipient|the copyright holder|each party".split("|")
LEGAL_VERBS = "may reproduce|shall not distribute|must retain|may sublicense|shall indemnify|may modify".split("|")
LEGAL_OBJECTS = "the Software|any Derivative Work|the Source Code|the documentation|the Covered Code|the Original Work".split("|")
LEGAL_CONDITIONS = "provided that this notice is included in all copies|subject to the terms of this Agreement|without warranty of any kind, express or implied|unless required by applicable law or agreed to in writing|for any purpose, commercial or otherwise|in accordance with Section 4 of this License".split("|")


def story_sentence(rng):
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)} {rng.choice(TIMES)}, {rng.choice(CLAUSES)}."


def legal_sentence(rng):
    return f"{rng.choice(LEGAL_TERMS).capitalize()} {rng.choice(LEGAL_VERBS)} {rng.choice(LEGAL_OBJECTS)}, {rng.choice(LEGAL_CONDITIONS)}."


def document(rng, sentence, paragraphs=3, per_paragraph=4):
    return "\n\n".join(" ".join(sentence(rng) for _ in range(per_paragraph)) for _ in range(paragraphs))


def write_e2e_corpus(rng, docs=240):
    """The corpus of configs/tiny.yaml (the end-to-end flow): general prose and a legal domain."""
    for domain, sentence in (("general", story_sentence), ("legal", legal_sentence)):
        out = HERE.parent / "e2e" / f"{domain}.jsonl"
        out.parent.mkdir(exist_ok=True)
        out.write_text("".join(json.dumps({"text": document(rng, sentence)}) + "\n" for _ in range(docs)))


def main():
    rng = random.Random(20261123)
    stories = [{"id": f"story-{i}", "text": document(rng, story_sentence)} for i in range(12)]
    lines = [json.dumps(r) for r in stories]
    lines += [json.dumps({"id": "story-dup", "text": stories[0]["text"]}), json.dumps({"id": "story-empty", "text": "  \r\n "}), "{not json"]
    (HERE / "general").mkdir(exist_ok=True)
    (HERE / "general/stories.jsonl").write_text("\n".join(lines) + "\n")
    licences = [{"text": document(rng, legal_sentence), "spdx": f"X-{i}"} for i in range(8)]
    licences.append({"text": licences[0]["text"], "spdx": "dup"})
    (HERE / "legal").mkdir(exist_ok=True)
    (HERE / "legal/licences.jsonl").write_text("".join(json.dumps(r) + "\n" for r in licences))
    write_e2e_corpus(rng)


if __name__ == "__main__":
    main()
