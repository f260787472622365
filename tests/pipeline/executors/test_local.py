import os
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config import CurateConfig
from pipeline.executors import make_executor
from pipeline.executors.local import task_processes
from stages.tasks import Phase, TaskStep
from tests.conftest import curate_tiny, tree_checksums


def run_phase(root: Path, name: str, tasks: int, workers: int, task) -> None:
    """A phase whose ``task(rank)`` runs on the local executor, its logs under ``root/name``."""

    def counted(rank: int, world_size: int) -> dict:
        task(rank)
        return {"ran": 1}

    make_executor(
        CurateConfig(workers=workers), [TaskStep(Phase(name, counted, tasks))], root / name, tasks
    ).run()


def test_every_phase_runs_on_the_same_task_processes_and_none_in_the_main_process(tmp_path):
    pids = {}
    with task_processes(2):
        for name in ("first", "second"):
            run_phase(
                tmp_path,
                name,
                6,
                2,
                lambda rank, name=name: (tmp_path / f"{name}-{rank}").write_text(str(os.getpid())),
            )
            pids[name] = {int((tmp_path / f"{name}-{rank}").read_text()) for rank in range(6)}
            assert len(list((tmp_path / name / "completions").iterdir())) == 6
    assert pids["first"] == pids["second"] and 1 <= len(pids["first"]) <= 2
    assert os.getpid() not in pids["first"]


def test_a_task_process_that_dies_is_reported_with_its_logs_and_the_phase_resumes_at_that_task(
    tmp_path,
):
    def dies_at_rank_1(rank):
        (tmp_path / f"ran-{rank}").touch()
        if rank == 1 and not (tmp_path / "fixed").exists():
            os._exit(3)

    with pytest.raises(RuntimeError, match=f"a task process died.*{tmp_path}/phase/logs"):
        run_phase(tmp_path, "phase", 3, 1, dies_at_rank_1)
    assert sorted(p.name for p in (tmp_path / "phase/completions").iterdir()) == ["00000"]
    (tmp_path / "ran-0").unlink()
    (tmp_path / "fixed").touch()
    run_phase(tmp_path, "phase", 3, 1, dies_at_rank_1)
    assert sorted(p.name for p in (tmp_path / "phase/completions").iterdir()) == [
        "00000",
        "00001",
        "00002",
    ]
    assert not (tmp_path / "ran-0").exists()  # the finished task was not run again


def test_slurm_writes_an_array_job_per_phase_chained_by_dependencies(tmp_path, in_repo, capsys):
    run = tmp_path / "r"
    assert curate_tiny(run, "--executor", "slurm") == 0
    assert "submit.sh" in capsys.readouterr().err
    jobs = sorted(run.glob("slurm/[0-9]*.slurm"))
    names = [p.stem.split("-", 1)[1] for p in jobs]
    assert names[0] == "ingest" and names[-3:] == ["shards-runs", "shards-cuts", "shards-merge"]
    assert (
        names.index("exact_dedup-rewrite")
        < names.index("quality-model")
        < names.index("minhash-clusters")
    )
    assert all(
        "launch_pickled_pipeline" in p.read_text() and "#SBATCH --array=0-" in p.read_text()
        for p in jobs
    )
    assert (
        "#SBATCH --array=0-20"
        in (run / "slurm" / f"{jobs[names.index('minhash-bands')].name}").read_text()
    )  # a task per band
    submit = (run / "slurm/submit.sh").read_text().splitlines()
    chained = [line for line in submit if "sbatch" in line]
    assert [line.rstrip(")").split()[-1] for line in chained] == [p.name for p in jobs] + [
        "finish.slurm"
    ]
    assert all("--dependency=afterok:$jid" in line for line in chained[1:])
    finish = (run / "slurm/finish.slurm").read_text()
    assert "-m pipeline curate" in finish and "--executor local" in finish
    assert not (run / "shards").exists()
    # what the finishing job does: the same run, executed locally, keeps the same stage keys
    assert (
        main(
            [
                "curate",
                "--run",
                str(run),
                "--config",
                str(run / "config.yaml"),
                "--executor",
                "local",
            ]
        )
        == 0
    )
    assert {p.parent.parent.name for p in run.glob("shards/*/*/*.parquet")} == {
        "domain=general",
        "domain=legal",
    }


@pytest.mark.slow
def test_a_two_node_ray_cluster_gives_the_shards_of_the_local_executor(tmp_path, in_repo, capfd):
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        sums = []
        for executor in ("local", "ray"):
            run = tmp_path / executor
            assert curate_tiny(run, "--executor", executor, "--workers", "2") == 0
            sums.append(tree_checksums(run / "shards"))
            # Task logs go to their files, not over the progress bars.
            assert "Launching pipeline for rank" not in capfd.readouterr().err
            assert (
                "Launching pipeline for rank=0"
                in (run / "logs/ingest/logs/task_00000.log").read_text()
            )
        assert len([node for node in ray.nodes() if node["Alive"]]) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert sums[0] == sums[1] and sums[0]
