import pytest

from pipeline.cli import main
from pipeline.rundir import tree_checksums
from tests.conftest import TINY_CONFIG


def test_slurm_writes_scripts_and_a_rerun_finishes_the_run(tmp_path, in_repo, capsys):
    run = tmp_path / "r"
    assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(run), "--executor", "slurm"]) == 0
    assert "sbatch --dependency=afterok" in capsys.readouterr().err
    ingest = (run / "slurm/ingest.slurm").read_text()
    assert "#SBATCH --array=0-1" in ingest and "launch_pickled_pipeline" in ingest
    assert (run / "logs/ingest/executor.pik").exists()
    finish = (run / "slurm/finish.slurm").read_text()
    assert "-m pipeline curate" in finish and "--executor local" in finish
    assert not (run / "shards").exists()
    # what the finishing job does: the same run, executed locally, keeps the same stage keys
    assert main(["curate", "--run", str(run), "--config", str(run / "config.yaml"), "--executor", "local"]) == 0
    assert {p.parent.parent.name for p in run.glob("shards/*/*/*.parquet")} == {"domain=general", "domain=legal"}


@pytest.mark.slow
def test_ray_and_local_executors_give_identical_shards(tmp_path, in_repo, capfd):
    sums = []
    for executor in ("local", "ray"):
        run = tmp_path / executor
        assert main(["curate", "--config", str(TINY_CONFIG), "--run", str(run), "--executor", executor, "--workers", "2"]) == 0
        sums.append(tree_checksums(run / "shards"))
        # Task logs go to their files, not over the progress bars.
        assert "Launching pipeline for rank" not in capfd.readouterr().err
        assert "Launching pipeline for rank=0" in (run / "logs/ingest/logs/task_00000.log").read_text()
    assert sums[0] == sums[1] and sums[0]
