"""Slurm: a curate run as array jobs, one per phase, chained by dependencies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.files import atomic_write_text
from pipeline.config import CritmixConfig
from pipeline.curation.stages import PlannedStage
from pipeline.executors import make_executor
from pipeline.rundir import RunDir


def write_slurm_jobs(config: CritmixConfig, run: RunDir, planned: list[PlannedStage]) -> Path:
    """One array job per phase of every stage, each depending on the one before, and a last job that
    reruns ``critmix curate`` locally: it finds every task complete and records the run."""
    import dill

    slurm_dir = run / "slurm"
    slurm_dir.mkdir(parents=True, exist_ok=True)
    scripts: list[Path] = []
    for stage in planned:
        for logging_dir, steps, tasks in stage.jobs:
            phase = str(logging_dir.relative_to(run / "logs")).replace("/", "-")
            executor = make_executor(
                config.curate, steps, logging_dir, tasks, job_name=f"critmix-{phase}"
            )
            scripts.append(slurm_dir / f"{len(scripts):02d}-{phase}.slurm")
            atomic_write_text(
                scripts[-1],
                executor.get_launch_file_contents(
                    executor.get_sbatch_args(tasks),
                    f"launch_pickled_pipeline {executor.logging_dir.resolve_paths('executor.pik')}",
                ),
            )
            with executor.logging_dir.open("executor.pik", "wb") as handle:
                dill.dump(executor, handle)
        run.record_stage(stage.name, stage.key, "running")
    slurm = config.curate.slurm
    finish = slurm_dir / "finish.slurm"
    atomic_write_text(
        finish,
        "\n".join(
            [
                "#!/bin/bash",
                "#SBATCH --job-name=critmix-finish",
                f"#SBATCH --partition={slurm.partition}",
                f"#SBATCH --time={slurm.time}",
                f"cd {Path.cwd()}",
                f"{sys.executable} -m pipeline curate --run {run.path.resolve()} --config {(run / 'config.yaml').resolve()} "
                "--executor local",
                "",
            ]
        ),
    )
    lines = [
        "#!/bin/bash",
        "set -e",
        f"cd {slurm_dir.resolve()}",
        f"jid=$(sbatch --parsable {scripts[0].name})",
    ]
    lines += [
        f"jid=$(sbatch --parsable --dependency=afterok:$jid {s.name})"
        for s in scripts[1:] + [finish]
    ]
    submit = slurm_dir / "submit.sh"
    atomic_write_text(submit, "\n".join(lines + ['echo "submitted; the last job is $jid"', ""]))
    return submit


def submit_slurm(submit: Path, really: bool) -> str:
    if not really:
        return f"wrote the Slurm jobs under {submit.parent}; submit them with:\n  bash {submit}\n(or set curate.slurm.submit=true)"
    return subprocess.check_output(["bash", str(submit)], text=True).strip()
