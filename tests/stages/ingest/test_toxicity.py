import json
import random

import pyarrow.parquet as pq
import pytest
from datatrove.data import Document

from core.errors import ConfigError
from stages.base import is_removed
from stages.ingest.toxicity import ToxicityConfig, ToxicityFilter
from stages.quality.examples import model_input
from stages.quality.scores import positive_probabilities
from stages.quality.scoring import fit
from stages.writers import WorkWriter

CLEAN = "the river valley held old records of trade and careful surveys of the region".split()
TOXIC = ["vile", "scum", "idiot"]


def docs(rng, n, toxic_share, domain):
    out = []
    for i in range(n):
        words = [rng.choice(TOXIC if rng.random() < toxic_share else CLEAN) for _ in range(100)]
        out.append(
            Document(
                text=" ".join(words),
                id=f"{domain}-{toxic_share}-{i}",
                metadata={
                    "domain": domain,
                    "source": domain,
                    "text_hash": i,
                    "origin": {"file": "x", "offset": i},
                },
            )
        )
    return out


def word_list(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("# a tiny list\nvile\nScum  # comment\n\nidiot\n")
    return str(path)


def test_word_list_removes_documents_over_the_fraction_and_records_why(tmp_path):
    rng = random.Random(0)
    batch = docs(rng, 20, 0.0, "chat") + docs(rng, 20, 0.2, "chat") + docs(rng, 10, 0.0, "legal")
    step = ToxicityFilter(
        ToxicityConfig(enabled=True, word_list=word_list(tmp_path), max_word_fraction=0.05)
    )
    removed = [d for d in step.run(iter(batch)) if is_removed(d)]
    assert {d.id for d in removed} == {d.id for d in batch if "-0.2-" in d.id}
    verdict = removed[0].metadata["meta"]["filter"]
    assert (
        verdict["rule"] == "toxicity:word_list" and verdict["value"] > verdict["threshold"] == 0.05
    )
    stats = step.stats.to_dict()["stats"]
    assert (
        stats["flagged:chat"] == 20
        and "flagged:legal" not in stats
        and stats["checked:legal"] == 10
    )


def test_a_fasttext_model_given_by_path_removes_what_it_flags(tmp_path):
    rng = random.Random(1)
    lines = [
        f"__label__toxic {' '.join(rng.choice(TOXIC + CLEAN[:3]) for _ in range(30))}"
        for _ in range(300)
    ]
    lines += [f"__label__ok {' '.join(rng.choice(CLEAN) for _ in range(30))}" for _ in range(300)]
    model = fit(
        "\n".join(lines) + "\n",
        tmp_path / "toxic.bin",
        epoch=20,
        dim=16,
        wordNgrams=2,
        bucket=10_000,
        thread=1,
        verbose=0,
    )
    batch = docs(rng, 10, 0.0, "chat") + docs(rng, 10, 0.9, "chat")
    out_dir, removed_dir = tmp_path / "work", tmp_path / "removed"
    steps = ToxicityFilter(
        ToxicityConfig(enabled=True, model_path=str(tmp_path / "toxic.bin"))
    ).run(iter(batch))
    list(WorkWriter(str(out_dir), str(removed_dir)).run(steps))
    removed = pq.read_table(removed_dir / "stage=toxicity").to_pylist()
    flagged = [
        d.id
        for d in batch
        if positive_probabilities(model, [model_input(d.text, 4000)], "__label__toxic")[0] >= 0.5
    ]
    assert flagged and sorted(r["id"] for r in removed) == sorted(flagged)
    assert {r["reason"] for r in removed} == {"model"} and {r["domain"] for r in removed} == {
        "chat"
    }
    assert json.loads(removed[0]["meta"])["filter"]["value"] >= 0.5
    assert pq.read_table(out_dir).num_rows == len(batch) - len(flagged)


def test_enabled_without_a_word_list_or_model_says_what_to_set():
    with pytest.raises(ConfigError, match="toxicity.word_list"):
        ToxicityFilter(ToxicityConfig(enabled=True))


def test_only_the_configured_domains_lose_documents(tmp_path):
    rng = random.Random(1)
    batch = docs(rng, 15, 0.2, "chat") + docs(rng, 15, 0.2, "legal")
    step = ToxicityFilter(
        ToxicityConfig(
            enabled=True, word_list=word_list(tmp_path), max_word_fraction=0.05, domains=["chat"]
        )
    )
    out = list(step.run(iter(batch)))
    assert len(out) == len(batch)  # nothing is dropped: out-of-domain documents pass through kept
    assert {d.id for d in out if is_removed(d)} == {
        d.id for d in batch if d.metadata["domain"] == "chat"
    }
    assert "checked:legal" not in step.stats.to_dict()["stats"]
