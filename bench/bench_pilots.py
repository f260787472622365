"""Pilot sweep: adaptive ratios against fixed ones on simulated pilots (``--synthetic``, no training),
or one trainer process per pilot (``plan.pilots.fuse=1``) against fused processes
(``fuse=auto``: the pilots split over the ``plan.pilots.parallel`` processes), in the same run.

Both go through the planner's own ``run_pilots`` on the recipe's pilots (every ratio, seed and control,
its pilot tokens and model), on random token shards per domain and a randomly initialized base model,
so only start-up and how the pilots are launched differ. Reports each mode's wall time and pilot
tokens per second, and checks that the two give the same curves (``plan/curves.csv``).

    .venv/bin/python bench/bench_pilots.py                          # configs/tiny.yaml
    .venv/bin/python bench/bench_pilots.py --config configs/demo.yaml
    .venv/bin/python bench/bench_pilots.py --synthetic --draws 20  # adaptive vs fixed (bench/adaptive_pilots.py)
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from tokenizers import Tokenizer, models  # noqa: E402

from pipeline.config import CritmixConfig, load_config  # noqa: E402
from pipeline.planning.pilots import collect_curves, pilot_jobs, run_pilots  # noqa: E402
from pipeline.planning.trainer_runs import save_resolved_config  # noqa: E402
from pipeline.rundir import RunDir  # noqa: E402
from trainer.data.tokens import bucket_stem, dtype_for, val_stem, write_shard  # noqa: E402
from trainer.model import build_model  # noqa: E402


def random_tokens(root: Path, domains: list[str], vocab: int, per_domain: int) -> None:
    """A word-level tokenizer and one bucket of random documents per domain, each with its own token range."""
    Tokenizer(models.WordLevel({f"t{i}": i for i in range(vocab)}, unk_token="t1")).save(
        str(root / "tokenizer.json")
    )
    rng = np.random.default_rng(0)
    for i, domain in enumerate(domains):
        low = 1 + i * (vocab - 1) // len(domains)
        flat = rng.integers(low, low + (vocab - 1) // len(domains), per_domain)
        docs = [np.append(chunk, 0) for chunk in np.array_split(flat, per_domain // 500)]
        header = {"tokenizer": "random", "source": "random", "val_fraction": 0.0}
        fields = [{"source": "random", "domain": domain}] * len(docs)
        dtype = dtype_for(vocab)
        write_shard(
            bucket_stem(root, domain, "high/long"),
            docs,
            dtype,
            dict(header, bucket="high/long"),
            fields,
        )
        write_shard(val_stem(root, domain), docs[:8], dtype, dict(header, bucket="val"), fields[:8])


def sweep(config: CritmixConfig, root: Path, tokens: Path, base: Path) -> tuple[float, list[dict]]:
    run = RunDir(root)
    started = time.perf_counter()
    run_pilots(config, run, save_resolved_config(config, run), tokens, base)
    seconds = time.perf_counter() - started
    return seconds, list(csv.DictReader(collect_curves(config, run).open()))


def largest_difference(a: list[dict], b: list[dict]) -> float:
    assert [(r["domain"], r["ratio"], r["seed"], r["tokens"]) for r in a] == [
        (r["domain"], r["ratio"], r["seed"], r["tokens"]) for r in b
    ], "the two sweeps evaluated different points"
    return max(
        abs(float(x[k]) - float(y[k]))
        for x, y in zip(a, b)
        for k in ("general_loss", "domain_loss")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/tiny.yaml")
    parser.add_argument("--set", action="append", default=[], help="config override (repeatable)")
    parser.add_argument(
        "--synthetic", action="store_true", help="adaptive vs fixed ratios on simulated pilots"
    )
    parser.add_argument("--draws", type=int, default=20, help="per family and noise (--synthetic)")
    args = parser.parse_args()
    if args.synthetic:
        from bench.adaptive_pilots import compare

        compare(args.draws)
        return
    unfused = load_config(args.config, [*args.set, "plan.pilots.fuse=1"])
    fused = load_config(args.config, [*args.set, "plan.pilots.fuse=auto"])
    pilots = unfused.plan.pilots
    jobs = pilot_jobs(unfused)
    pilot_tokens = len(jobs) * pilots.tokens
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "tokens").mkdir()
        domains = [unfused.plan.general_domain, *unfused.plan_domains()]
        random_tokens(
            root / "tokens", domains, unfused.train.tokenizer.vocab_size, 4 * pilots.tokens
        )
        build_model(unfused.train.model, unfused.train.tokenizer.vocab_size).save_pretrained(
            root / "base"
        )
        one_each, one_curves = sweep(unfused, root / "one", root / "tokens", root / "base")
        together, fused_curves = sweep(fused, root / "fused", root / "tokens", root / "base")
    print(f"{len(jobs)} pilots x {pilots.tokens:,} tokens, {pilots.parallel} processes at a time")
    for label, seconds in (("one process per pilot", one_each), ("fused (fuse=auto)", together)):
        print(f"  {label:22s} {seconds:7.1f} s  {pilot_tokens / seconds:9.0f} pilot tokens/s")
    print(
        f"  speed-up {one_each / together:.2f}x; largest curve difference "
        f"{largest_difference(one_curves, fused_curves):.2e} over {len(one_curves)} rows"
    )


if __name__ == "__main__":
    main()
