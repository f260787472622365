import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stages.dedup.lsh import SignatureRows, band_pairs, band_slice, sorted_slice
from stages.dedup.minhash import phases, run_minhash
from stages.dedup.signatures import Hasher, MinhashConfig, s_curve, signature_paths
from stages.schema import REMOVED_SCHEMA, WORK_SCHEMA
from stages.tasks import StageDirs, key_ranges
from tests.stages.dedup.dedup_synth import (
    jaccard,
    make_corpus,
    nearest_neighbour_jaccard,
    pairs_above,
    shingle_set,
    work_table,
)

CONFIG = MinhashConfig()


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(families=300, variants=4, seed=7)


def write_split(docs, directory: Path, parts: int) -> list[Path]:
    directory.mkdir(parents=True)
    table = work_table(docs)
    paths = []
    for i, rows in enumerate(np.array_split(np.arange(table.num_rows), parts)):
        paths.append(directory / f"part-{i}.parquet")
        pq.write_table(table.take(rows), paths[-1])
    return paths


def run(docs, root: Path, parts: int = 1) -> dict:
    write_split(docs, root / "in", parts)
    counters = run_minhash(dirs(root), CONFIG)
    return {"counters": counters, "root": root}


def dirs(root: Path) -> StageDirs:
    return StageDirs(root / "in", root / "out", root / "removed", root / "scratch")


def read(root: Path, pattern: str, schema: pa.Schema) -> pa.Table:
    files = sorted(root.glob(pattern))
    return (
        pa.concat_tables([pq.read_table(f, schema=schema) for f in files]).sort_by("id")
        if files
        else schema.empty_table()
    )


@pytest.fixture(scope="module")
def result(corpus, tmp_path_factory):
    done = run(corpus, tmp_path_factory.mktemp("one"))
    done["kept"] = read(done["root"], "out/*.parquet", WORK_SCHEMA)
    done["removed"] = read(done["root"], "removed/stage=minhash/*.parquet", REMOVED_SCHEMA)
    return done


def test_default_banding_catches_the_target_jaccard():
    assert s_curve(0.8, CONFIG.bands, CONFIG.rows) >= 0.99
    assert s_curve(0.3, CONFIG.bands, CONFIG.rows) <= 0.02


def test_signatures_estimate_the_true_jaccard(corpus):
    hasher = Hasher(CONFIG)
    docs = corpus[:200]
    signatures, _ = hasher.signatures([d.text for d in docs])
    errors = []
    for i in range(0, len(docs) - 1):
        a, b = docs[i], docs[i + 1]
        estimate = (signatures[i] == signatures[i + 1]).mean()
        errors.append(estimate - jaccard(shingle_set(a.text, 5), shingle_set(b.text, 5)))
    assert abs(np.mean(errors)) < 0.01  # unbiased
    assert np.std(errors) < 0.05  # about sqrt(J(1-J)/126) at worst


def test_near_duplicates_found_with_high_recall(corpus, result):
    cluster = dict(zip(result["kept"]["id"].to_pylist(), result["kept"]["dup_cluster"].to_pylist()))
    cluster.update(
        zip(result["removed"]["id"].to_pylist(), result["removed"]["dup_cluster"].to_pylist())
    )
    pairs = pairs_above(corpus, 0.85)
    assert len(pairs) > 200
    found = sum(cluster[a] is not None and cluster[a] == cluster[b] for a, b in pairs)
    assert found / len(pairs) >= 0.98


def test_no_document_without_a_close_neighbour_is_removed(corpus, result):
    nearest = nearest_neighbour_jaccard(corpus)
    assert sum(v < 0.5 for v in nearest.values()) > 300  # the corpus has plenty of them
    removed = result["removed"]["id"].to_pylist()
    assert removed and min(nearest[i] for i in removed) >= 0.5
    assert set(result["removed"]["reason"].to_pylist()) == {"near_duplicate"}


def test_without_verification_the_same_bands_remove_distant_documents(corpus, tmp_path):
    unverified = dataclasses.replace(CONFIG, verify_jaccard=0.0)
    write_split(corpus, tmp_path / "in", 1)
    run_minhash(dirs(tmp_path), unverified)
    removed = read(tmp_path, "removed/stage=minhash/*.parquet", REMOVED_SCHEMA)["id"].to_pylist()
    nearest = nearest_neighbour_jaccard(corpus)
    assert sum(nearest[i] < 0.5 for i in removed) >= 10


def test_survivor_is_best_quality_then_longest_then_smallest_id(result):
    members = pa.concat_tables(
        [
            result["kept"].select(["id", "quality_score", "n_chars", "dup_cluster"]),
            result["removed"].select(["id", "quality_score", "n_chars", "dup_cluster"]),
        ]
    )
    clusters: dict[str, list] = {}
    for row in members.to_pylist():
        if row["dup_cluster"]:
            clusters.setdefault(row["dup_cluster"], []).append(row)
    assert clusters
    kept = set(result["kept"]["id"].to_pylist())
    for name, rows in clusters.items():
        best = min(
            rows,
            key=lambda r: (
                r["quality_score"] is None,
                -(r["quality_score"] or 0),
                -r["n_chars"],
                r["id"],
            ),
        )
        assert name == f"fuzzy:{best['id']}"
        assert [r["id"] for r in rows if r["id"] in kept] == [best["id"]]


def test_counts_conserved(corpus, result):
    counters = result["counters"]
    assert counters["kept"] + counters["removed:near_duplicate"] == len(corpus)
    ids = result["kept"]["id"].to_pylist() + result["removed"]["id"].to_pylist()
    assert sorted(ids) == sorted(d.id for d in corpus)


def test_output_is_deterministic_and_independent_of_the_file_split(corpus, result, tmp_path):
    again = run(corpus, tmp_path / "again")
    assert (again["root"] / "out/part-0.parquet").read_bytes() == (
        result["root"] / "out/part-0.parquet"
    ).read_bytes()
    split = run(corpus, tmp_path / "split", parts=3)
    assert read(split["root"], "out/*.parquet", WORK_SCHEMA).equals(result["kept"])
    assert read(split["root"], "removed/stage=minhash/*.parquet", REMOVED_SCHEMA).equals(
        result["removed"]
    )


def test_signatures_from_separate_tasks_give_the_same_result(corpus, result, tmp_path):
    inputs = write_split(corpus, tmp_path / "in", 3)
    signatures = phases(dirs(tmp_path), CONFIG, tasks=2)[0]
    for rank in range(2):
        signatures.task(rank, 2)
    for path in inputs:
        texts = pq.read_table(path, columns=["text"])["text"].to_pylist()
        expected, _ = Hasher(CONFIG).signatures(texts)
        assert np.array_equal(
            np.load(signature_paths(tmp_path / "scratch", path, CONFIG)["signatures"]), expected
        )
    run_minhash(dirs(tmp_path), CONFIG)
    assert read(tmp_path, "out/*.parquet", WORK_SCHEMA).equals(result["kept"])


def candidate_pairs(files: list[dict], band: int, ranges: int) -> set[tuple[int, int]]:
    offsets = SignatureRows(files).offsets
    pairs = set()
    for key_range in range(ranges):
        keys, index = sorted_slice(*band_slice(files, offsets, band, key_range, ranges))
        for left, right in band_pairs(keys, CONFIG.bucket_window):
            pairs.update(zip(index[left].tolist(), index[right].tolist()))
    return pairs


def test_key_ranges_of_a_band_form_the_candidate_pairs_of_the_whole_band(corpus, tmp_path):
    inputs = write_split(corpus, tmp_path / "in", 3)
    phases(dirs(tmp_path), CONFIG, tasks=1)[0].task(0, 1)
    files = [signature_paths(tmp_path / "scratch", p, CONFIG) for p in inputs]
    for band in (0, CONFIG.bands - 1):
        whole = candidate_pairs(files, band, 1)
        assert len(whole) > 100
        assert candidate_pairs(files, band, 13) == whole


def test_many_key_ranges_give_the_clusters_and_shards_of_one(corpus, result, tmp_path):
    write_split(corpus, tmp_path / "in", 1)
    split = dataclasses.replace(CONFIG, docs_per_band_task=50)
    counters = run_minhash(dirs(tmp_path), split, tasks=3)
    ranges = key_ranges(len(corpus), split.docs_per_band_task)
    assert (
        ranges > 20
        and len(list((tmp_path / "scratch/edges").glob("band-*.npy"))) == CONFIG.bands * ranges
    )
    assert np.array_equal(
        np.load(tmp_path / "scratch/clusters.npy"), np.load(result["root"] / "scratch/clusters.npy")
    )
    assert (tmp_path / "out/part-0.parquet").read_bytes() == (
        result["root"] / "out/part-0.parquet"
    ).read_bytes()
    assert read(tmp_path, "removed/stage=minhash/*.parquet", REMOVED_SCHEMA).equals(
        result["removed"]
    )
    assert counters["minhash:clusters"] == result["counters"]["minhash:clusters"]


def test_corpus_without_near_duplicates_is_kept_whole(tmp_path):
    docs = make_corpus(families=50, variants=0, seed=3)
    counters = run(docs, tmp_path)["counters"]
    assert counters["kept"] == len(docs) and counters["minhash:clusters"] == 0
    assert read(tmp_path, "out/*.parquet", WORK_SCHEMA)["dup_cluster"].null_count == len(docs)
