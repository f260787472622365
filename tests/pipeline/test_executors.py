import pytest

from pipeline.cli import main
from tests.conftest import TINY_CONFIG, tree_checksums


def test_slurm_writes_an_array_job_per_phase_chained_by_dependencies(tmp_path, in_repo, capsys):
    run = tmp_path / "r"
    assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(run), "--executor", "slurm"]) == 0
    assert "submit.sh" in capsys.readouterr().err
    jobs = sorted(run.glob("slurm/[0-9]*.slurm"))
    names = [p.stem.split("-", 1)[1] for p in jobs]
    assert names[0] == "ingest" and names[-2:] == ["shards-runs", "shards-merge"]
    assert names.index("exact_dedup-rewrite") < names.index("quality-model") < names.index("minhash-clusters")
    assert all("launch_pickled_pipeline" in p.read_text() and "#SBATCH --array=0-" in p.read_text() for p in jobs)
    assert "#SBATCH --array=0-20" in (run / "slurm" / f"{jobs[names.index('minhash-bands')].name}").read_text()  # a task per band
    submit = (run / "slurm/submit.sh").read_text().splitlines()
    chained = [line for line in submit if "sbatch" in line]
    assert [line.rstrip(")").split()[-1] for line in chained] == [p.name for p in jobs] + ["finish.slurm"]
    assert all("--dependency=afterok:$jid" in line for line in chained[1:])
    finish = (run / "slurm/finish.slurm").read_text()
    assert "-m pipeline curate" in finish and "--executor local" in finish
    assert not (run / "shards").exists()
    # what the finishing job does: the same run, executed locally, keeps the same stage keys
    assert main(["curate", "--run", str(run), "--config", str(run / "config.yaml"), "--executor", "local"]) == 0
    assert {p.parent.parent.name for p in run.glob("shards/*/*/*.parquet")} == {"domain=general", "domain=legal"}


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
            assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(run), "--executor", executor, "--workers", "2"]) == 0
            sums.append(tree_checksums(run / "shards"))
            # Task logs go to their files, not over the progress bars.
            assert "Launching pipeline for rank" not in capfd.readouterr().err
            assert "Launching pipeline for rank=0" in (run / "logs/ingest/logs/task_00000.log").read_text()
        assert len([node for node in ray.nodes() if node["Alive"]]) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert sums[0] == sums[1] and sums[0]
