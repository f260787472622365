"""``critmix plan``: pilot runs -> fitted CMR law per domain -> ``plan/curriculum.yaml``.

1. Tokenize the run's shards (skipped when up to date).
2. Base model: trained on the general domain (or loaded from ``plan.base_model``).
3. Pilots: for each domain and ratio R, continual pre-training from the base on
   (1 - R) general + R domain with a short warmup and a constant LR near the base's final LR,
   evaluated at log-spaced token points. Pilots are independent single-thread processes, run
   ``plan.pilots.parallel`` at a time; a finished pilot is skipped, a killed one resumes.
4. ``plan/curves.csv`` (the format ``critmix law fit`` reads), the CMR fit per domain, the combined
   mixture, and the curriculum: a general phase, a continual-pre-training phase at the planned
   mixture with quality ascending within it, and a short high-quality anneal.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from pipeline.config import CritmixConfig
from pipeline.progress import console, track
from pipeline.rundir import RunDir
from stages.files import atomic_write_text
from trainer.config import to_mapping

CURVE_COLUMNS = ["domain", "ratio", "tokens", "general_loss", "domain_loss"]


class PlanError(RuntimeError):
    pass


def trainer_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "trainer", *args]


def run_trainer(args: list[str], log_path: Path, threads: int | None = None) -> None:
    """Run ``python -m trainer ...`` as its own process; its output goes to ``log_path``."""
    env = dict(os.environ)
    if threads:  # also caps the BLAS/OpenMP pools, which torch.set_num_threads does not reach
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        args = [*args, "--set", f"threads={threads}"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        code = subprocess.call(trainer_command(*args), stdout=log, stderr=subprocess.STDOUT, env=env)
    if code != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise PlanError(f"trainer failed (exit {code}); its log is {log_path}:\n{tail}")


def train_args(config_path: Path, spec: Path, tokens: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--config", str(config_path), "--curriculum", str(spec), "--tokens", str(tokens), "--out", str(out),
            *extra]


def log_spaced_points(budget: int, count: int, first: int) -> list[int]:
    """Evaluation points: 0, then ``count`` points from ``first`` to ``budget`` spaced evenly in log."""
    points = np.unique(np.geomspace(max(1, first), budget, count).astype(int))
    return [0, *points.tolist()]


def phase(name: str, tokens: int, init: str, lr: dict, mixture: dict) -> dict:
    return {"name": name, "tokens": int(tokens), "init": init, "lr": lr, "mixture": mixture}


def share(value: float, chosen_by: dict, buckets: dict | None = None) -> dict:
    return {"share": float(value), "buckets": buckets or {}, "chosen_by": chosen_by}


def curriculum(general_domain: str, phases: list[dict]) -> dict:
    return {"version": 1, "general_domain": general_domain, "phases": phases}


def base_phase(config: CritmixConfig) -> dict:
    """Pre-training on general data: cosine from ``base_lr`` to ``base_final_lr``."""
    plan = config.plan
    lr = {"schedule": "cosine", "peak": plan.base_lr, "final": plan.base_final_lr,
          "warmup_tokens": int(0.02 * plan.base_tokens)}
    general = {plan.general_domain: share(1.0, {"method": "general pre-training"})}
    return phase("general", plan.base_tokens, "scratch", lr, general)


def cpt_lr(config: CritmixConfig, tokens: int) -> dict:
    """Continual pre-training: a short warmup to a constant LR near the base's final LR."""
    pilots = config.plan.pilots
    peak = pilots.lr if pilots.lr is not None else config.plan.base_final_lr
    return {"schedule": "constant", "peak": peak, "warmup_tokens": int(pilots.warmup_fraction * tokens)}


def pilot_curriculum(config: CritmixConfig, domain: str, ratio: float, base_model: Path) -> dict:
    plan = config.plan
    mixture = {domain: share(ratio, {"method": "pilot"})}
    if ratio < 1:
        mixture[plan.general_domain] = share(1 - ratio, {"method": "pilot"})
    tokens = plan.pilots.tokens
    return curriculum(plan.general_domain, [phase("pilot", tokens, str(base_model), cpt_lr(config, tokens), mixture)])


def write_yaml(path: Path, data: dict) -> Path:
    import yaml

    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
    return path


def ensure_tokens(run: RunDir, config_path: Path) -> Path:
    tokens = run / "tokens"
    run_trainer(["tokenize", "--shards", str(run / "shards"), "--out", str(tokens), "--config", str(config_path)],
                run / "plan/logs/tokenize.log")
    return tokens


def ensure_base(config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path) -> Path:
    if config.plan.base_model:
        base = Path(config.plan.base_model)
        if not (base / "config.json").exists():
            raise PlanError(f"plan.base_model={base} is not a Hugging Face model directory (no config.json)")
        return base
    out = run / "plan/base"
    if not (out / "final/config.json").exists():
        spec = write_yaml(run / "plan/base.curriculum.yaml", curriculum(config.plan.general_domain, [base_phase(config)]))
        console.print(f"base model: {config.plan.base_tokens:,} general tokens")
        run_trainer(train_args(config_path, spec, tokens, out), run / "plan/logs/base.log")
    return out / "final"


def pilot_name(domain: str, ratio: float) -> str:
    return f"{domain}-r{round(ratio * 1000):04d}"  # per mille: no dots in file names


def pilot_dir(run: RunDir, domain: str, ratio: float) -> Path:
    return run / f"plan/pilots/{pilot_name(domain, ratio)}"


def pilot_eval_override(config: CritmixConfig) -> str:
    pilots = config.plan.pilots
    points = log_spaced_points(pilots.tokens, pilots.eval_points, pilots.first_eval_tokens or pilots.tokens // 100)
    return f"eval.at_tokens={json.dumps(points)}"


def run_pilot(config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path, base: Path, job: tuple) -> Path:
    domain, ratio = job
    out = pilot_dir(run, domain, ratio)
    if (out / "final/config.json").exists():
        return out
    spec = write_yaml(out.with_suffix(".curriculum.yaml"), pilot_curriculum(config, domain, ratio, base))
    run_trainer(train_args(config_path, spec, tokens, out, "--set", pilot_eval_override(config)),
                out.with_suffix(".log"), threads=1)
    return out


def pilot_jobs(config: CritmixConfig) -> list[tuple[str, float]]:
    return [(domain, ratio) for domain in config.plan_domains() for ratio in config.plan.pilots.ratios]


def run_pilots(config: CritmixConfig, run: RunDir, config_path: Path, tokens: Path, base: Path) -> None:
    jobs = pilot_jobs(config)
    started = time.time()
    with ThreadPoolExecutor(max_workers=config.plan.pilots.parallel) as pool:
        results = pool.map(lambda job: run_pilot(config, run, config_path, tokens, base, job), jobs)
        for _ in track(results, f"pilots ({config.plan.pilots.parallel} at a time)", total=len(jobs)):
            pass
    console.print(f"pilots: {len(jobs)} done in {time.time() - started:.0f}s")


def pilot_curve(metrics_path: Path, domain: str, ratio: float, general_domain: str) -> list[dict]:
    rows = []
    for line in metrics_path.read_text().splitlines():
        record = json.loads(line)
        val = record.get("val")
        if val:
            rows.append({"domain": domain, "ratio": ratio, "tokens": record["tokens"],
                         "general_loss": val[general_domain], "domain_loss": val[domain]})
    return rows


def collect_curves(config: CritmixConfig, run: RunDir) -> Path:
    rows = []
    for domain, ratio in pilot_jobs(config):
        metrics = pilot_dir(run, domain, ratio) / "metrics.jsonl"
        rows += pilot_curve(metrics, domain, ratio, config.plan.general_domain)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=CURVE_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path = run / "plan/curves.csv"
    atomic_write_text(path, text.getvalue())  # `critmix law fit` may read it at any time
    return path


def plot_fits(fits: dict, run: RunDir) -> None:
    from pipeline.law_plots import plot_domain
    from stages.plan.cmr import read_curves

    curves = read_curves(run / "plan/curves.csv")
    for domain, fit in fits.items():
        if fit.ratios:  # a fit that could use no ratio has nothing to draw; fit.yaml says why
            plot_domain(curves, fit, run / f"plan/plots/{domain}.png")


def fit_domains(config: CritmixConfig, curves_path: Path) -> dict:
    from stages.plan.cmr import fit_cmr, read_curves

    plan = config.plan
    return fit_cmr(read_curves(curves_path), lam=plan.lam, epsilon=plan.epsilon, budget=plan.budget or plan.pilots.tokens)


def planned_shares(config: CritmixConfig, fits: dict) -> tuple[dict[str, float], dict[str, dict], list[str]]:
    """Per-domain shares and how each was chosen: by hand (``plan.ratios``) or from the CMR law."""
    from stages.plan.cmr import combine_domains

    manual = config.plan.ratios
    unknown = sorted(set(manual) - set(config.plan_domains()))
    if unknown:
        raise PlanError(f"plan.ratios names {unknown}, which are not planned domains {config.plan_domains()}")
    mixture = combine_domains({d: fits[d].cmr for d in config.plan_domains() if d not in manual})
    shares, chosen, notes = dict(mixture.domains), {}, list(mixture.warnings)
    for domain in config.plan_domains():
        fit = fits[domain].to_dict()
        if domain in manual:
            shares[domain] = manual[domain]
            upper = (fit["ci"] or [fit["cmr"]] * 2)[1]
            chosen[domain] = {"method": "manual", "cmr": fit["cmr"], "ci": fit["ci"]}
            if upper is not None and manual[domain] > upper:
                notes.append(f"{domain}: the hand-set share {manual[domain]:.3f} exceeds its CMR upper bound {upper:.3f}; "
                             f"the general loss is predicted to rise by more than epsilon={config.plan.epsilon}")
        else:
            chosen[domain] = {"method": "cmr_law", "rule": mixture.rule, **fit}
    general = 1.0 - sum(shares.values())
    if general < 0:
        raise PlanError(f"the domain shares sum to {1 - general:.3f} > 1; lower plan.ratios")
    return shares, chosen, notes


def bucket_tokens(shards: Path) -> dict[str, dict[str, int]]:
    """Estimated tokens per domain and bucket key ``<quality>/<length>``."""
    import pyarrow.dataset as ds

    table = ds.dataset(shards, format="parquet", partitioning="hive").to_table(
        columns=["domain", "quality_tier", "length_bucket", "n_tokens_est"])
    sums = table.group_by(["domain", "quality_tier", "length_bucket"]).aggregate([("n_tokens_est", "sum")])
    out: dict[str, dict[str, int]] = {}
    for row in sums.to_pylist():
        out.setdefault(row["domain"], {})[f"{row['quality_tier']}/{row['length_bucket']}"] = row["n_tokens_est_sum"]
    return out


TIER_ORDER = ("low", "mid", "high")


def tier_weights(tokens: dict[str, int], emphasis: str | None, only: str | None = None) -> dict[str, float]:
    """Bucket weights within a domain: token counts, tripled for the emphasized tier, or one tier alone."""
    weights = {}
    for key, count in sorted(tokens.items()):
        tier = key.split("/")[0]
        if only is None or tier == only:
            weights[key] = float(count) * (3.0 if tier == emphasis else 1.0)
    return weights or {key: float(count) for key, count in tokens.items()}


def mixture(shares: dict[str, float], chosen: dict[str, dict], general_domain: str, buckets: dict,
            emphasis: str | None = None, only: str | None = None) -> dict:
    general_share = 1.0 - sum(shares.values())
    out = {general_domain: share(general_share, {"method": "remainder"}, tier_weights(buckets[general_domain], emphasis, only))}
    for domain, value in shares.items():
        if value > 0:
            out[domain] = share(value, chosen[domain], tier_weights(buckets[domain], emphasis, only))
    return out


def planned_curriculum(config: CritmixConfig, shares: dict, chosen: dict, buckets: dict) -> dict:
    """General phase, CPT at the planned mixture (quality ascending in three parts), high-quality anneal."""
    plan = config.plan
    budget = plan.budget or plan.pilots.tokens
    phases = [base_phase(config)]
    parts = TIER_ORDER if plan.quality_ascending else (None,)
    for index, tier in enumerate(parts):
        tokens = budget // len(parts)
        lr = cpt_lr(config, budget) if index == 0 else {**cpt_lr(config, budget), "warmup_tokens": 0}
        name = f"cpt-{tier}" if tier else "cpt"
        phases.append(phase(name, tokens, "previous", lr, mixture(shares, chosen, plan.general_domain, buckets, emphasis=tier)))
    anneal_tokens = int(plan.anneal_fraction * budget)
    if anneal_tokens:
        lr = {"schedule": "linear", "peak": cpt_lr(config, budget)["peak"], "final": 0.0, "warmup_tokens": 0}
        phases.append(phase("anneal", anneal_tokens, "previous", lr,
                            mixture(shares, chosen, plan.general_domain, buckets, only="high")))
    return curriculum(plan.general_domain, phases)


def save_resolved_config(config: CritmixConfig, run: RunDir) -> Path:
    return write_yaml(run / "plan/config.yaml", to_mapping(config))


def plan(config: CritmixConfig, run: RunDir) -> Path:
    if not (run / "shards").exists():
        raise PlanError(f"{run.path} has no shards: run `make curate` first")
    config_path = save_resolved_config(config, run)
    tokens = ensure_tokens(run, config_path)
    base = ensure_base(config, run, config_path, tokens)
    run_pilots(config, run, config_path, tokens, base)
    fits = fit_domains(config, collect_curves(config, run))
    shares, chosen, notes = planned_shares(config, fits)
    for note in notes + [w for fit in fits.values() for w in fit.warnings]:
        console.print(f"[yellow]warning:[/] {note}")
    buckets = bucket_tokens(run / "shards")
    spec = planned_curriculum(config, shares, chosen, buckets)
    spec["warnings"] = notes
    write_yaml(run / "plan/fit.yaml", {d: f.to_dict() for d, f in fits.items()})
    plot_fits(fits, run)
    if config.plan.validate:
        over = {d: min(1.0, 1.5 * v) for d, v in shares.items()}
        validate = planned_curriculum(config, over, {d: {"method": "validation: 1.5x the plan"} for d in over}, buckets)
        write_yaml(run / "plan/curriculum.validate.yaml", validate)
    return write_yaml(run / "plan/curriculum.yaml", spec)


PILOT_SCRIPT = """#!/usr/bin/env bash
# Trains the base model, then the pilots N at a time; a finished run is skipped, a killed one resumes.
# Usage: ./run_pilots.sh [N] [--set KEY=VALUE ...]  (the overrides reach every trainer run, e.g. --set compile=false)
# Needs only torch, transformers, tokenizers, numpy and pyyaml ($PYTHON, default python3).
# Then copy this directory's plan/ back (model weights are not needed) and run
# `critmix plan --import-pilots <this directory>` with the config it was exported with.
set -uo pipefail
cd "$(dirname "$0")"
parallel=${1:-1}
shift $(( $# > 0 ? 1 : 0 ))
extra=("$@")

train() {  # train OUT TRAINER-ARGS...: skipped when OUT is finished; the output goes to OUT.log
  local out=$1
  shift
  [ -f "$out/final/config.json" ] && return
  mkdir -p "$(dirname "$out")"
  "${PYTHON:-python3}" -m trainer "$@" ${extra[@]+"${extra[@]}"} >>"$out.log" 2>&1 || echo "failed: $out (see $out.log)" >&2
}

pilot() {  # like train, in the background, at most $parallel at a time
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n; done
  train "$@" &
}

finished() {
  local missing=0
  for out; do [ -f "$out/final/config.json" ] || { echo "not finished: $out (see $out.log)" >&2; missing=1; }; done
  return $missing
}

@BASE@
finished plan/base || exit 1
@PILOTS@
wait
finished @OUTS@ && echo "base and pilots done"
"""


def export_pilots(config: CritmixConfig, run: RunDir, dest: Path) -> Path:
    """Write ``dest/run_pilots.sh`` and all it needs (token shards, curricula, the resolved config, trainer/)
    to train the base model and the pilots on a host with only the trainer's dependencies."""
    import trainer

    config_path = save_resolved_config(config, run)
    tokens = ensure_tokens(run, config_path)
    shutil.copytree(tokens, dest / "tokens", dirs_exist_ok=True)
    shutil.copytree(Path(trainer.__file__).parent, dest / "trainer", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(config_path, dest / "config.yaml")
    # Paths relative to dest: the script runs there.
    config_file, tokens_dir, base = Path("config.yaml"), Path("tokens"), Path("plan/base")
    if config.plan.base_model:
        shutil.copytree(ensure_base(config, run, config_path, tokens), dest / base / "final", dirs_exist_ok=True)
    base_spec = base.with_suffix(".curriculum.yaml")
    write_yaml(dest / base_spec, curriculum(config.plan.general_domain, [base_phase(config)]))
    pilots, outs = [], [base]
    for domain, ratio in pilot_jobs(config):
        out = Path("plan/pilots") / pilot_name(domain, ratio)
        spec = write_yaml(dest / out.with_suffix(".curriculum.yaml"), pilot_curriculum(config, domain, ratio, base / "final"))
        args = train_args(config_file, spec.relative_to(dest), tokens_dir, out, "--set", pilot_eval_override(config))
        pilots.append(shlex.join(["pilot", str(out), *args]))
        outs.append(out)
    base_line = shlex.join(["train", str(base), *train_args(config_file, base_spec, tokens_dir, base)])
    script = dest / "run_pilots.sh"
    atomic_write_text(script, PILOT_SCRIPT.replace("@BASE@", base_line).replace("@PILOTS@", "\n".join(pilots))
                      .replace("@OUTS@", shlex.join(map(str, outs))))
    script.chmod(0o755)
    return script


def import_pilots(config: CritmixConfig, run: RunDir, source: Path) -> None:
    """Copy the base model and pilots that ``run_pilots.sh`` finished in ``source`` into the run's plan/."""
    import yaml

    if not (source / "run_pilots.sh").is_file():
        raise PlanError(f"{source} was not written by `critmix plan --export-pilots`; give the exported directory")
    exported = yaml.safe_load((source / "config.yaml").read_text())
    resolved = to_mapping(config)
    for section in ("plan", "train"):
        if exported.get(section) != resolved[section]:
            raise PlanError(f"{source} was exported with another {section}: section than this config; plan with "
                            f"the config it was exported with ({source / 'config.yaml'}) or export again")
    shutil.copytree(source / "plan", run / "plan", dirs_exist_ok=True)


def print_plan(path: Path) -> None:
    import yaml
    from rich.table import Table

    from pipeline.law import format_interval, format_optional

    spec = yaml.safe_load(path.read_text())
    cpt = next(p for p in spec["phases"] if p["name"].startswith("cpt"))
    table = Table(title=f"planned mixture ({path})")
    for column in ("domain", "share", "chosen by", "CMR", "CI", "binding"):
        table.add_column(column)
    for domain, entry in cpt["mixture"].items():
        how = entry["chosen_by"]
        ci = how.get("ci")
        table.add_row(domain, f"{entry['share']:.3f}", how["method"], format_optional(how.get("cmr")),
                      format_interval(ci) if ci else "-", str(how.get("binding") or "-"))
    console.print(table)


def register(subparsers) -> None:
    from pipeline.cli import add_config_args

    parser = subparsers.add_parser(
        "plan", help="pilot runs -> fitted CMR law -> curriculum.yaml",
        description="Train a base model on general data, run continual pre-training pilots per domain and ratio, "
        "fit the critical-mixture-ratio law, and write <run>/plan/curriculum.yaml. Finished pilots are skipped. "
        "Set a domain's share by hand with --set plan.ratios.<domain>=0.2 (recorded in the plan).",
    )
    add_config_args(parser)
    parser.add_argument("--export-pilots", metavar="DIR",
                        help="instead of training here, write DIR/run_pilots.sh with the token shards, curricula, "
                        "config and trainer/ it needs to train the base model and the pilots on another host (a GPU)")
    parser.add_argument("--import-pilots", metavar="DIR",
                        help="first copy the base model and pilots finished in an exported DIR into the run; "
                        "the plan then goes straight to curves, fit and curriculum")
    parser.set_defaults(func=main)


def main(args) -> int:
    from pipeline.cli import load_args_config, run_dir_for

    config = load_args_config(args)
    with RunDir(run_dir_for(args, config)) as run:
        if args.export_pilots:
            script = export_pilots(config, run, Path(args.export_pilots))
            parallel = config.plan.pilots.parallel
            console.print(f"wrote {script}: run it on the GPU host (`{script} {parallel}` trains {parallel} pilots at a "
                          f"time), copy its plan/ back, then `critmix plan --import-pilots {args.export_pilots}`")
            return 0
        if args.import_pilots:
            import_pilots(config, run, Path(args.import_pilots))
        path = plan(config, run)
    print_plan(path)
    return 0
