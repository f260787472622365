import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from stages.files import file_sha256
from stages.quality import QualityConfig, planned_model, roc_auc, run_quality
from stages.tasks import StageDirs
from tests.stages.quality_synth import build
from trainer.errors import ConfigError, CritmixError


def config_for(paths, **overrides) -> QualityConfig:
    settings = dict(positives=["wikipedia"], negative_paths=[str(paths["spam"] / "*.jsonl")],
                    cache_dir=str(paths["models"].parent / "cache")) | overrides
    return QualityConfig(**settings)


def score(tmp_path, name, config, paths):
    out = tmp_path / name
    out.mkdir()
    counters = run_quality(StageDirs(paths["ingest"], out, paths["removed"], tmp_path / f"scratch-{name}"), config, paths["models"])
    return counters, pq.read_table(out)


def test_run_model_separates_held_out_text_and_scores_every_document(tmp_path):
    paths = build(tmp_path)
    counters, table = score(tmp_path, "out", config_for(paths), paths)
    record = json.loads((paths["models"] / "quality.json").read_text())
    assert record["origin"] == "run" and (paths["models"] / "quality.bin").is_file()
    assert record["available"] == {"positive": 60, "negative": 60 + 10}  # spam + docs the heuristics removed
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
    _, second = score(tmp_path, "b", config_for(paths, cache_dir=str(tmp_path / "empty-cache")), paths)
    assert json.loads((paths["models"] / "quality.json").read_text())["sha256"] == sha
    assert file_sha256(paths["models"] / "quality.bin") == sha
    assert first.equals(second)
    assert [p.read_bytes() for p in sorted((tmp_path / "a").glob("*"))] == [p.read_bytes() for p in sorted((tmp_path / "b").glob("*"))]


def test_a_run_without_reference_documents_uses_the_cached_default_model(tmp_path):
    paths = build(tmp_path)
    corpus = tmp_path / "demo"
    (corpus / "wikipedia").mkdir(parents=True)
    (corpus / "wikipedia/part.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in pq.read_table(paths["ingest"]).to_pylist()
                if r["source"] == "wikipedia"))
    config = config_for(paths, demo_corpus=str(corpus))
    for table in (pq.read_table(p) for p in paths["ingest"].glob("*.parquet")):  # this run: no wikipedia
        pq.write_table(table.filter(table["source"].to_numpy(zero_copy_only=False) == "forum"), paths["ingest"] / "only-forum.parquet")
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
    _, table = score(tmp_path, "out", config_for(paths, model_path=str(given), negative_paths=[]), paths)
    record = json.loads((paths["models"] / "quality.json").read_text())
    assert record["origin"] == "given" and record["model"] == str(given)
    assert not (paths["models"] / "quality.bin").exists() and table["quality_score"].null_count == 0


def test_missing_negatives_say_what_to_do(tmp_path):
    paths = build(tmp_path)
    config = config_for(paths, negative_paths=[str(tmp_path / "nowhere/*.jsonl")], negative_stages=[])
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
    config = QualityConfig(positives=["docs"], negative_paths=[str(spam / "*.jsonl")], demo_corpus=str(tmp_path / "demo"))
    assert planned_model(config, ["docs", "blog"]).startswith("a model trained for this run on docs (positive)")
    with pytest.raises(ConfigError, match=r"negatives: \['forum'\] are not sources of this run"):
        planned_model(replace(config, negatives=["forum"]), ["docs"])
    with pytest.raises(ConfigError, match="critmix corpus --only spam"):
        planned_model(replace(config, negative_paths=[str(tmp_path / "none/*.jsonl")]), ["docs"])
    assert "against blog" in planned_model(replace(config, negatives=["blog"], negative_paths=[]), ["docs", "blog"])
    with pytest.raises(ConfigError, match="critmix corpus --only docs"):  # the default model, without the demo corpus
        planned_model(config, ["blog"])
    (tmp_path / "demo/docs").mkdir(parents=True)
    (tmp_path / "demo/docs/a.jsonl").write_text('{"text": "a reference text"}\n')
    assert "not on this run's text" in planned_model(config, ["blog"])
    with pytest.raises(ConfigError, match="does not exist"):
        planned_model(replace(config, model_path=str(tmp_path / "absent.bin")), ["blog"])
