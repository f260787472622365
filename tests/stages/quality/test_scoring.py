import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from core.errors import ConfigError, CritmixError
from core.files import file_sha256
from stages.quality.examples import (
    BottomKSample,
    jsonl_texts,
    merged_sample,
    new_sample,
    parquet_texts,
    write_sample,
)
from stages.quality.scoring import (
    NEGATIVE,
    POSITIVE,
    QualityConfig,
    balanced_split,
    planned_model,
    roc_auc,
    run_quality,
)
from stages.tasks import StageDirs
from tests.stages.quality.quality_synth import build, text


def config_for(paths, **overrides) -> QualityConfig:
    settings = (
        dict(
            positives=["wikipedia"],
            negative_paths=[str(paths["spam"] / "*.jsonl")],
            cache_dir=str(paths["models"].parent / "cache"),
        )
        | overrides
    )
    return QualityConfig(**settings)


def score(tmp_path, name, config, paths):
    out = tmp_path / name
    out.mkdir()
    counters = run_quality(
        StageDirs(paths["ingest"], out, paths["removed"], tmp_path / f"scratch-{name}"),
        config,
        paths["models"],
    )
    return counters, pq.read_table(out)


def test_run_model_separates_held_out_text_and_scores_every_document(tmp_path):
    paths = build(tmp_path)
    counters, table = score(tmp_path, "out", config_for(paths), paths)
    record = json.loads((paths["models"] / "quality.json").read_text())
    assert record["origin"] == "run" and (paths["models"] / "quality.bin").is_file()
    assert record["available"] == {
        "positive": 60,
        "negative": 60 + 10,
    }  # spam + docs the heuristics removed
    assert record["metrics"]["auc"] >= 0.95 and counters["holdout_auc"] == record["metrics"]["auc"]
    assert counters["kept"] == table.num_rows == 120 and table["quality_score"].null_count == 0
    forum = table.filter(table["source"].to_numpy(zero_copy_only=False) == "forum").to_pylist()
    spam_share = [int(r["id"].split("-")[1]) for r in forum]
    assert spearmanr(spam_share, [r["quality_score"] for r in forum]).statistic < -0.7


def test_training_again_from_scratch_gives_the_same_model_and_identical_bytes(tmp_path):
    paths = build(tmp_path)
    _, first = score(tmp_path, "a", config_for(paths), paths)
    sha = json.loads((paths["models"] / "quality.json").read_text())["sha256"]
    shutil.rmtree(paths["models"])
    _, second = score(
        tmp_path, "b", config_for(paths, cache_dir=str(tmp_path / "empty-cache")), paths
    )
    assert json.loads((paths["models"] / "quality.json").read_text())["sha256"] == sha
    assert file_sha256(paths["models"] / "quality.bin") == sha
    assert first.equals(second)
    assert [p.read_bytes() for p in sorted((tmp_path / "a").glob("*"))] == [
        p.read_bytes() for p in sorted((tmp_path / "b").glob("*"))
    ]


def resplit(ingest: Path, parts: int, seed: int) -> None:
    """The same documents in ``parts`` files of uneven sizes, shuffled, under names in another order."""
    table = pq.read_table(ingest)
    rows = table.take(np.random.default_rng(seed).permutation(table.num_rows))
    cuts = [
        0,
        *sorted(
            np.random.default_rng(seed).choice(
                np.arange(1, table.num_rows), parts - 1, replace=False
            )
        ),
        table.num_rows,
    ]
    for p in ingest.glob("*.parquet"):
        p.unlink()
    for i, (start, stop) in enumerate(zip(cuts, cuts[1:])):
        pq.write_table(rows.slice(start, stop - start), ingest / f"part-{parts - i:05d}.parquet")


def test_the_same_documents_split_into_other_files_train_the_same_model(tmp_path):
    paths = build(tmp_path, n=90)
    config = config_for(paths, max_per_class=25)  # fewer than either class: the sample decides
    counters, table = score(tmp_path, "two-files", config, paths)
    record = json.loads((paths["models"] / "quality.json").read_text())
    assert record["examples"]["per_class"] == 25 and record["available"] == {
        "positive": 90,
        "negative": 90 + 10,
    }
    assert record["metrics"]["auc"] >= 0.9
    resplit(paths["ingest"], parts=7, seed=5)
    shutil.rmtree(paths["models"])
    again = StageDirs(
        paths["ingest"], tmp_path / "seven-files", paths["removed"], tmp_path / "scratch-seven"
    )
    run_quality(
        again,
        config_for(paths, max_per_class=25, cache_dir=str(tmp_path / "empty-cache")),
        paths["models"],
        tasks=3,
    )
    assert json.loads((paths["models"] / "quality.json").read_text())["sha256"] == record["sha256"]
    scores = {
        r["id"]: r["quality_score"] for r in pq.read_table(tmp_path / "seven-files").to_pylist()
    }
    assert scores == {r["id"]: r["quality_score"] for r in table.to_pylist()}


def test_the_sample_is_the_same_whatever_the_files_and_their_order(tmp_path):
    rng = random.Random(3)
    texts = [text(rng, rng.random(), rng.randint(5, 300)) for _ in range(700)]
    sources = ["ref" if i % 3 else "web" for i in range(700)]
    pq.write_table(pa.table({"text": texts, "source": sources}), tmp_path / "one.parquet")
    order = rng.sample(range(700), 700)
    for i in range(7):  # seven files of shuffled documents
        chosen = order[i * 100 : (i + 1) * 100]
        pq.write_table(
            pa.table({"text": [texts[j] for j in chosen], "source": [sources[j] for j in chosen]}),
            tmp_path / f"part-{i}.parquet",
        )
        (tmp_path / f"part-{i}.jsonl").write_text(
            "".join(json.dumps({"text": texts[j]}) + "\n" for j in chosen)
        )
    (tmp_path / "all.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))

    def sample(texts, seed=0):
        sample = BottomKSample(50, seed, max_chars=120)
        sample.extend(texts)
        return sample.first(50)

    reference = sample(parquet_texts([tmp_path / "one.parquet"], ["ref"]))
    assert len(reference) == 50 and all(len(t) <= 120 for t in reference)
    assert (
        sample(parquet_texts(rng.sample(sorted(tmp_path.glob("part-*.parquet")), 7), ["ref"]))
        == reference
    )
    everything = sample(jsonl_texts([str(tmp_path / "all.jsonl")]))
    assert sample(jsonl_texts([str(tmp_path / "part-*.jsonl")])) == everything != reference
    assert sample(jsonl_texts([str(tmp_path / "all.jsonl")]), seed=1) != everything


def test_the_sample_never_holds_more_than_k_documents_and_counts_every_one():
    small, large = BottomKSample(40, seed=2, max_chars=60), BottomKSample(400, seed=2, max_chars=60)
    for i in range(400):  # ten times k
        small.extend([f"document {i} " * (1 + i % 50)])
        assert len(small) <= 40
    large.extend(f"document {i} " * (1 + i % 50) for i in range(400))
    assert small.seen == large.seen == 400 and len(small) == 40 and len(large) == 400
    assert small.first(40) == large.first(
        40
    )  # the 40 of smallest hash among all 400, not the first seen
    assert all(len(t) <= 60 for t in small.first(40))


def test_samples_of_parts_merge_into_the_sample_of_the_whole(tmp_path):
    """What lets every task sample its own share of the files and one task merge them."""
    config = QualityConfig(max_per_class=40, max_chars=60)
    documents = [f"document {i} " * (1 + i % 30) for i in range(1000)]
    whole = new_sample(config)
    whole.extend(documents)
    for parts in (1, 3, 16):
        paths = []
        for part in range(parts):
            sample = new_sample(config)
            sample.extend(documents[part::parts])
            write_sample(sample, tmp_path / f"{parts}-{part:02d}.parquet")
            paths.append(tmp_path / f"{parts}-{part:02d}.parquet")
        merged = merged_sample(paths, config)
        assert merged.seen == whole.seen == 1000 and merged.first(40) == whole.first(40)
    empty = new_sample(config)
    write_sample(empty, tmp_path / "empty.parquet")
    assert merged_sample([tmp_path / "empty.parquet"], config).seen == 0


def test_classes_are_balanced_then_a_share_is_held_out():
    config = QualityConfig(max_per_class=30, holdout_fraction=0.2)
    for n_negatives, per_class in ((500, 30), (12, 12)):
        positives, negatives = new_sample(config), new_sample(config)
        positives.extend(f"good text {i}" for i in range(500))
        negatives.extend(f"bad text {i}" for i in range(n_negatives))
        train_set, holdout = balanced_split(positives, negatives, config)
        labels = [label for label, _ in train_set + holdout]
        assert labels.count(POSITIVE) == labels.count(NEGATIVE) == per_class
        assert (
            len(holdout) == int(2 * per_class * 0.2)
            and len(set(train_set) | set(holdout)) == 2 * per_class
        )


def test_a_run_without_reference_documents_uses_the_cached_default_model(tmp_path):
    paths = build(tmp_path)
    corpus = tmp_path / "demo"
    (corpus / "wikipedia").mkdir(parents=True)
    (corpus / "wikipedia/part.jsonl").write_text(
        "".join(
            json.dumps({"id": r["id"], "text": r["text"]}) + "\n"
            for r in pq.read_table(paths["ingest"]).to_pylist()
            if r["source"] == "wikipedia"
        )
    )
    config = config_for(paths, demo_corpus=str(corpus))
    for table in (
        pq.read_table(p) for p in paths["ingest"].glob("*.parquet")
    ):  # this run: no wikipedia
        pq.write_table(
            table.filter(table["source"].to_numpy(zero_copy_only=False) == "forum"),
            paths["ingest"] / "only-forum.parquet",
        )
    for p in paths["ingest"].glob("ingest-*.parquet"):
        p.unlink()
    _, table = score(tmp_path, "out", config, paths)
    assert json.loads((paths["models"] / "quality.json").read_text())["origin"] == "default"
    default = Path(json.loads((paths["models"] / "quality.json").read_text())["model"])
    assert default.parent == tmp_path / "cache" and not (paths["models"] / "quality.bin").exists()
    built = default.stat().st_mtime_ns
    score(tmp_path, "again", config, paths)
    assert default.stat().st_mtime_ns == built  # trained once, then reused
    assert table["quality_score"].null_count == 0


def test_a_model_given_by_path_is_used_as_is(tmp_path):
    paths = build(tmp_path)
    score(tmp_path, "train", config_for(paths), paths)
    given = tmp_path / "given.bin"
    (paths["models"] / "quality.bin").rename(given)
    _, table = score(
        tmp_path, "out", config_for(paths, model_path=str(given), negative_paths=[]), paths
    )
    record = json.loads((paths["models"] / "quality.json").read_text())
    assert record["origin"] == "given" and record["model"] == str(given)
    assert not (paths["models"] / "quality.bin").exists() and table["quality_score"].null_count == 0


def test_missing_negatives_say_what_to_do(tmp_path):
    paths = build(tmp_path)
    config = config_for(
        paths, negative_paths=[str(tmp_path / "nowhere/*.jsonl")], negative_stages=[]
    )
    with pytest.raises(CritmixError, match="make corpus"):
        score(tmp_path, "out", config, paths)


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(1)
    labels, scores = rng.random(200) < 0.4, np.round(rng.random(200), 1)  # rounded: many ties
    pos, neg = scores[labels], scores[~labels]
    pairwise = np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))
    assert roc_auc(labels, scores) == pytest.approx(pairwise)


def test_the_planned_model_is_checked_before_any_stage_runs(tmp_path):
    spam = tmp_path / "spam"
    spam.mkdir()
    (spam / "a.jsonl").write_text('{"text": "buy now"}\n')
    config = QualityConfig(
        positives=["docs"],
        negative_paths=[str(spam / "*.jsonl")],
        demo_corpus=str(tmp_path / "demo"),
    )
    assert planned_model(config, ["docs", "blog"]).startswith(
        "a model trained for this run on docs (positive)"
    )
    with pytest.raises(ConfigError, match=r"negatives: \['forum'\] are not sources of this run"):
        planned_model(replace(config, negatives=["forum"]), ["docs"])
    with pytest.raises(ConfigError, match="critmix corpus --only spam"):
        planned_model(replace(config, negative_paths=[str(tmp_path / "none/*.jsonl")]), ["docs"])
    assert "against blog" in planned_model(
        replace(config, negatives=["blog"], negative_paths=[]), ["docs", "blog"]
    )
    with pytest.raises(
        ConfigError, match="critmix corpus --only docs"
    ):  # the default model, without the demo corpus
        planned_model(config, ["blog"])
    (tmp_path / "demo/docs").mkdir(parents=True)
    (tmp_path / "demo/docs/a.jsonl").write_text('{"text": "a reference text"}\n')
    assert "not on this run's text" in planned_model(config, ["blog"])
    with pytest.raises(ConfigError, match="does not exist"):
        planned_model(replace(config, model_path=str(tmp_path / "absent.bin")), ["blog"])
