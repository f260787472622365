import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.rundir import RunDir, RunInUse
from tests.conftest import curate_tiny, tree_checksums
from tests.curate_process import curate_process, write_corpus


def test_counts_conserved_per_source(tiny_run):
    counts = json.loads((tiny_run / "manifest.json").read_text())["counts"]
    # stories: 15 lines = 12 kept + 1 exact duplicate + 1 empty + 1 broken JSON line
    assert counts["stories"] == {"in": 15, "kept": 12, "removed": 3}
    assert counts["licences"] == {"in": 9, "kept": 8, "removed": 1}


def test_shards_are_hive_partitioned_with_carried_ids(tiny_run):
    files = sorted(tiny_run.glob("shards/domain=*/quality=*/part-*.parquet"))
    assert {f.parent.parent.name for f in files} == {"domain=general", "domain=legal"}
    table = pq.read_table(files[0])
    ids = table["id"].to_pylist()
    assert ids == sorted(ids)
    general = pq.read_table(tiny_run / "shards/domain=general").to_pylist()
    assert {row["id"] for row in general} == {f"story-{i}" for i in range(12)}


def test_removed_records_stage_and_reason(tiny_run):
    removed = (
        ds.dataset(tiny_run / "removed", partitioning="hive")
        .to_table(columns=["source", "stage", "reason"])
        .to_pylist()
    )
    reasons = sorted((r["source"], r["stage"], r["reason"]) for r in removed)
    assert reasons == [
        ("licences", "exact_dedup", "duplicate"),
        ("stories", "exact_dedup", "duplicate"),
        ("stories", "normalize", "empty"),
        ("stories", "read", "invalid_json"),
    ]


def test_rerun_is_a_noop_that_says_so(tiny_run, tmp_path, in_repo, capsys):
    run = shutil.copytree(tiny_run, tmp_path / "run")  # the session's run stays as it was built
    before = tree_checksums(run / "shards")
    assert curate_tiny(run) == 0
    assert "up to date, skipped" in capsys.readouterr().err
    assert tree_checksums(run / "shards") == before


def test_resolved_config_and_manifest_saved(tiny_run):
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert (tiny_run / "config.yaml").exists()
    assert set(manifest) >= {"config", "config_hash", "packages", "inputs", "stages", "counts"}
    assert manifest["stages"]["shards"]["outputs"]


@pytest.mark.slow
def test_shards_identical_for_one_and_two_workers(tmp_path, in_repo):
    runs = []
    for workers in (1, 2):
        run = tmp_path / f"w{workers}"
        assert curate_tiny(run, "--workers", str(workers)) == 0
        runs.append(tree_checksums(run / "shards"))
    assert runs[0] == runs[1]


def test_shards_do_not_depend_on_how_ingest_split_its_work_files(tiny_run, tmp_path, in_repo):
    """Small work files (so that no per-file task's memory grows with the corpus) change nothing downstream."""
    run = tmp_path / "small-files"
    assert curate_tiny(run, "--set", "curate.work_file_mb=0.002") == 0
    files = sorted(p.name for p in (run / "work/ingest").glob("*.parquet"))
    assert len(files) > 4 and {"ingest-00000-0000.parquet", "ingest-00001-0001.parquet"} <= set(
        files
    )
    assert all(
        pq.read_table(run / "work/ingest" / name)["n_chars"].to_numpy()[:-1].sum() < 0.002 * 2**20
        for name in files
    )
    assert tree_checksums(run / "shards") == tree_checksums(tiny_run / "shards")


def test_second_curate_on_a_run_in_use_is_refused(tmp_path):
    with RunDir(tmp_path / "r"):
        with pytest.raises(RunInUse, match="in use by process"):
            with RunDir(tmp_path / "r"):
                pass


def test_stale_lock_of_a_dead_process_is_cleared(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / "r").mkdir()
    (tmp_path / "r/.lock").write_text(dead.stdout.strip())
    with RunDir(tmp_path / "r") as run:
        assert (run.path / ".lock").read_text() == str(os.getpid())


def test_source_matching_no_file_stops_before_writing(tmp_path, in_repo, capsys):
    run = tmp_path / "r"
    code = curate_tiny(run, "--source", "x:legal:nothing/*.jsonl")
    assert code == 2
    assert "source 'x': no file matches" in capsys.readouterr().err
    assert not run.exists()  # a config error writes nothing, not even the run directory


def test_a_stage_setting_that_cannot_work_stops_before_writing(tmp_path, in_repo, capsys):
    run = tmp_path / "r"
    code = curate_tiny(
        run,
        "--set",
        "curate.toxicity.enabled=true",
        "--set",
        f"curate.toxicity.word_list={tmp_path / 'absent.txt'}",
    )
    assert code == 2 and "curate.toxicity.word_list" in capsys.readouterr().err
    assert not run.exists()


def test_a_run_the_default_quality_model_cannot_score_stops_before_writing(
    tmp_path, in_repo, capsys
):
    run = tmp_path / "r"
    code = curate_tiny(
        run,
        "--set",
        "curate.quality.positives=[wikipedia]",
        "--set",
        f"curate.quality.demo_corpus={tmp_path / 'absent'}",
    )
    assert code == 2
    err = capsys.readouterr().err
    assert (
        "default quality model" in err
        and "critmix corpus --only wikipedia" in err
        and "curate.quality.positives" in err
    )
    assert not run.exists()


def test_the_quality_model_trains_on_the_users_own_sources_and_says_so(tmp_path, in_repo, capsys):
    run = tmp_path / "r"
    assert (
        main(
            [
                "curate",
                "--config",
                "configs/tiny.yaml",
                "--run",
                str(run),
                "--set",
                "curate.quality.negatives=[contracts]",
                "--set",
                "curate.quality.negative_paths=[]",
                "--set",
                "curate.quality.negative_stages=[]",
            ]
        )
        == 0
    )
    said = "trained for this run on stories (positive) against contracts (negative), evaluated on held-out documents"
    assert said in " ".join(capsys.readouterr().err.split())
    assert said in json.loads((run / "manifest.json").read_text())["quality_model"]
    record = json.loads((run / "models/quality.json").read_text())
    assert record["origin"] == "run" and record["sources"]["negative"] == ["contracts"]
    kept = json.loads((run / "manifest.json").read_text())["counts"]
    assert record["available"] == {
        "positive": kept["stories"]["kept"],
        "negative": kept["contracts"]["kept"],
    }


def test_sources_given_without_a_recipe_are_curated_alone_into_a_run_named_after_them(
    tmp_path, monkeypatch
):
    write_corpus(tmp_path / "mydocs", files=1, docs=20)
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "curate",
                "--source",
                "mydocs:techdocs:mydocs/*.jsonl",
                "--set",
                "curate.quality.enabled=false",
            ]
        )
        == 0
    )
    manifest = json.loads((tmp_path / "runs/mydocs/manifest.json").read_text())
    assert [s["name"] for s in manifest["config"]["sources"]] == ["mydocs"] and manifest["config"][
        "name"
    ] == "mydocs"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["mydocs"]


def test_a_run_directory_that_cannot_be_one_stops_before_writing(tmp_path, in_repo, capsys):
    (tmp_path / "file").write_text("not a directory")
    assert curate_tiny(tmp_path / "file/run") == 2
    assert "pass --run a directory path" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def session_processes(session: int) -> dict[int, str]:
    """pid -> command line of every living (not zombie) process in ``session``."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (
                (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except (OSError, IndexError):
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found[int(stat.parent.name)] = cmdline
    return found


def wait_for(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.slow
@pytest.mark.parametrize(
    "workers, started", [(1, 4), (2, 5)]
)  # curate, the resource tracker, the forkserver
def test_a_killed_curate_leaves_no_lock_and_no_processes_behind(
    tmp_path, in_repo, workers, started
):  # and the workers
    write_corpus(tmp_path / "corpus", files=4, docs=600)
    run = tmp_path / "run"
    killed = curate_process(run, tmp_path / "corpus", in_repo, "--workers", str(workers))
    assert wait_for(lambda: len(session_processes(killed.pid)) >= started), open(
        f"{run}.log"
    ).read()
    os.kill(
        killed.pid, signal.SIGKILL
    )  # not reaped yet: a zombie, as after a crash under a careless parent
    rerun = curate_process(run, tmp_path / "corpus", in_repo)
    assert rerun.wait() == 0, open(f"{run}.log").read()[-3000:]
    killed.wait()
    assert wait_for(lambda: not session_processes(killed.pid), 30), session_processes(killed.pid)


def test_the_near_duplicate_survivor_is_the_best_scored_and_removed_copies_say_why(
    tmp_path, in_repo, capsys
):
    """Each pair: a clean text and a longer copy with spam appended. Scored before MinHash, the clean one survives."""
    from tests.stages.quality.quality_synth import PROSE, SPAM

    rng = random.Random(5)
    words = lambda vocabulary, n: " ".join(rng.choice(vocabulary) for _ in range(n))  # noqa: E731
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_jsonl(
        corpus / "reference.jsonl",
        [{"id": f"ref-{i}", "text": words(PROSE, 150) + "."} for i in range(40)],
    )
    write_jsonl(
        corpus / "spam.jsonl",
        [{"id": f"spam-{i}", "text": words(SPAM, 80) + "."} for i in range(40)],
    )
    pairs = []
    for i in range(6):
        clean = words(PROSE, 200) + "."
        pairs += [
            {"id": f"clean-{i}", "text": clean},
            {"id": f"noisy-{i}", "text": clean + " " + words(SPAM, 40) + "."},
        ]
    write_jsonl(corpus / "forum.jsonl", pairs)
    run = tmp_path / "run"
    assert (
        curate_tiny(
            run,
            "--set",
            "sources=[]",
            "--source",
            f"reference:general:{corpus}/reference.jsonl",
            "--source",
            f"forum:general:{corpus}/forum.jsonl",
            "--set",
            "curate.quality.positives=[reference]",
            "--set",
            f"curate.quality.negative_paths=[{corpus}/spam.jsonl]",
        )
        == 0
    )
    kept = {r["id"]: r for r in ds.dataset(run / "shards", format="parquet").to_table().to_pylist()}
    removed = {r["id"]: r for r in pq.read_table(run / "removed/stage=minhash").to_pylist()}
    assert sorted(removed) == [f"noisy-{i}" for i in range(6)]
    for i in range(6):
        survivor, copy = kept[f"clean-{i}"], removed[f"noisy-{i}"]
        assert copy["dup_cluster"] == survivor["dup_cluster"] == f"fuzzy:clean-{i}"
        assert (
            copy["quality_score"] < survivor["quality_score"]
            and copy["n_chars"] > survivor["n_chars"]
        )
        assert 0.7 <= copy["survivor_similarity"] < 1.0
    capsys.readouterr()
    assert main(["explain", "noisy-0", "--run", str(run)]) == 0
    text = capsys.readouterr().out
    assert (
        "similarity 0." in text
        and f"survivor: score {kept['clean-0']['quality_score']:.4f}" in text
    )


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
