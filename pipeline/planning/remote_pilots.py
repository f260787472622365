"""Pilots trained on another host: ``critmix plan --export-pilots DIR`` writes DIR with
``run_pilots.sh`` and all it needs, ``--import-pilots DIR`` brings the finished runs back."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import yaml

import core
import trainer
from core.config import to_mapping
from core.files import atomic_write_text
from pipeline.config import CritmixConfig
from pipeline.planning.curricula import PlanError, base_curriculum, pilot_curriculum
from pipeline.planning.pilots import ensure_base, pilot_jobs, pilot_name, pilot_overrides
from pipeline.planning.trainer_runs import ensure_tokens, save_resolved_config, train_args
from pipeline.rundir import RunDir
from trainer.curriculum import write_curriculum

SCRIPT = Path(__file__).with_name("run_pilots.sh")


def shell_function(name: str, lines: list[list[str]]) -> str:
    body = (
        "".join(f"  {shlex.join(line)}\n" for line in lines) or "  :\n"
    )  # bash refuses an empty body
    return f"{name}() {{\n{body}}}\n"


def export_pilots(config: CritmixConfig, run: RunDir, dest: Path) -> Path:
    """Write ``dest/run_pilots.sh`` and all it needs (token shards, curricula, the resolved config, trainer/
    and core/, all that the trainer imports) to train the base model and the pilots on a host with only the
    trainer's dependencies."""
    if config.plan.pilots.adaptive:
        raise PlanError(
            "--export-pilots writes a fixed set of pilots, and plan.pilots.adaptive chooses each "
            "round's from the last: plan here, or set plan.pilots.adaptive=false"
        )
    config_path = save_resolved_config(config, run)
    tokens = ensure_tokens(run, config_path)
    shutil.copytree(tokens, dest / "tokens", dirs_exist_ok=True)
    for package in (trainer, core):
        if package.__file__ is None:  # both are regular packages, with an __init__.py
            raise RuntimeError(f"{package.__name__} has no __init__.py to find its folder by")
        shutil.copytree(
            Path(package.__file__).parent,
            dest / package.__name__,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copyfile(config_path, dest / "config.yaml")
    # Paths relative to dest: the script runs there.
    config_file, tokens_dir, base = Path("config.yaml"), Path("tokens"), Path("plan/base")
    if config.plan.base_model:
        shutil.copytree(
            ensure_base(config, run, config_path, tokens), dest / base / "final", dirs_exist_ok=True
        )
    base_spec = base.with_suffix(".curriculum.yaml")
    write_curriculum(base_curriculum(config), dest / base_spec)
    pilots, outputs = [], [base]
    for domain, ratio, seed in pilot_jobs(config):
        out = Path("plan/pilots") / pilot_name(domain, ratio, seed)
        spec = out.with_suffix(".curriculum.yaml")
        write_curriculum(pilot_curriculum(config, domain, ratio, base / "final"), dest / spec)
        pilots.append(
            [
                "pilot",
                str(out),
                *train_args(config_file, spec, tokens_dir, out, *pilot_overrides(config, seed)),
            ]
        )
        outputs.append(out)
    jobs = (
        shell_function(
            "train_base",
            [["train", str(base), *train_args(config_file, base_spec, tokens_dir, base)]],
        )
        + shell_function("train_pilots", pilots)
        + f"outputs=({shlex.join(map(str, outputs))})\n"
    )
    atomic_write_text(dest / "pilot_jobs.sh", jobs)
    script = dest / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    script.chmod(0o755)
    return script


def import_pilots(config: CritmixConfig, run: RunDir, source: Path) -> None:
    """Copy the base model and pilots that ``run_pilots.sh`` finished in ``source`` into the run's plan/."""
    if not (source / SCRIPT.name).is_file():
        raise PlanError(
            f"{source} was not written by `critmix plan --export-pilots`; give the exported directory"
        )
    exported = yaml.safe_load((source / "config.yaml").read_text())
    resolved = to_mapping(config)
    for section in ("plan", "train"):
        if exported.get(section) != resolved[section]:
            raise PlanError(
                f"{source} was exported with another {section}: section than this config; plan with "
                f"the config it was exported with ({source / 'config.yaml'}) or export again"
            )
    shutil.copytree(source / "plan", run / "plan", dirs_exist_ok=True)
