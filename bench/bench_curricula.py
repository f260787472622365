"""Two curricula at equal tokens: decomposed vs concatenated sequences, and MeCo vs plain text.

Three runs of the same model, tokens, steps, tokens per step and LR schedule:

- ``concat``: windows of ``seq_len`` cut from the concatenated documents (the peer of both comparisons);
- ``decomposed``: pieces of 2^k tokens from 32 to ``seq_len``, each from one document, cyclic
  schedule (dataset decomposition), in the corpus's own mix of lengths (what sampling the pieces
  uniformly gives). A document has at most one piece of each length under the longest, so a mix
  richer in short pieces than the corpus's would repeat them: this corpus's documents are mostly
  long, and so is its mix;
- ``meco``: concat with ``metadata: {template: "{source} {domain}\\n\\n", until: 0.9}``.

Time per token is measured apart, in short runs of each sequence setting alternated ``--repeats``
times, the best of each kept (the machine is shared), with a third setting timed only: decomposed
with equal token shares per length, which repeats the short pieces too often to train on here but
shows what short sequences cost.

Printed: time per token of decomposed vs concat; the final validation loss per domain on plain text
of each run; and MeCo's steering effect: each domain's loss on the start of its held-out documents
behind its own prefix vs behind another domain's (the same for the concat run, which never saw a prefix).

The corpus is real text found on this machine, no download: ``general`` = the package descriptions
in the venv's ``*.dist-info/METADATA``, ``code`` = its Python modules, ``legal`` = its licence files
(the same files on every machine installed from requirements.lock).

    .venv/bin/python bench/bench_curricula.py                 # CPU, tiny preset: 3 runs of 300k tokens
    .venv/bin/python bench/bench_curricula.py --tokens 100000  # quicker, noisier
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

from core.config import from_mapping  # noqa: E402
from trainer.config import TrainConfig  # noqa: E402
from trainer.curriculum import Curriculum, DomainMix, LRSegment, MetadataSpec, Phase, SequenceSpec  # noqa: E402
from trainer.data.loader import IGNORE  # noqa: E402
from trainer.data.meco import Prefixer  # noqa: E402
from trainer.data.tokenize import tokenize_shards  # noqa: E402
from trainer.data.tokens import TokenShard, bucket_stem, val_stem  # noqa: E402
from trainer.loop import train  # noqa: E402

SOURCES = {"general": "dist-metadata", "code": "python-module", "legal": "licence-file"}
SHARES = {"general": 0.4, "code": 0.4, "legal": 0.2}
TEMPLATE = "{source} {domain}\n\n"
MAX_CHARS = 12_000  # a document is cut here, so that one huge module does not make a domain


def corpus_files(site: Path, domain: str) -> list[Path]:
    if domain == "general":
        return sorted(site.glob("*.dist-info/METADATA"))
    if domain == "legal":
        return sorted(
            p
            for p in site.glob("*.dist-info/**/*")
            if p.is_file() and p.name.upper().startswith("LICEN")
        )
    return sorted(
        p for p in site.glob("*/**/*.py") if "test" not in str(p.relative_to(site)).lower()
    )


def write_corpus(shards: Path, chars_per_domain: int) -> dict[str, int]:
    """Parquet shards in the curation layout (domain=*/quality=*/), deduplicated by exact text."""
    site = Path(sysconfig.get_paths()["purelib"])
    counts = {}
    for domain in SOURCES:
        texts, seen, total = [], set(), 0
        for path in corpus_files(site, domain):
            text = path.read_text(errors="replace")[:MAX_CHARS].strip()
            if len(text) < 200 or text in seen:
                continue
            seen.add(text)
            texts.append((str(path.relative_to(site)), text))
            total += len(text)
            if total >= chars_per_domain:
                break
        folder = shards / f"domain={domain}" / "quality=high"
        folder.mkdir(parents=True)
        n = len(texts)
        pq.write_table(
            pa.table(
                {
                    "id": [f"{domain}/{name}" for name, _ in texts],
                    "text": [t for _, t in texts],
                    "length_bucket": ["any"] * n,
                    "source": [SOURCES[domain]] * n,
                    "meta": [json.dumps({"title": name.split("/")[0]}) for name, _ in texts],
                }
            ),
            folder / "part-0.parquet",
        )
        counts[domain] = n
    return counts


def natural_lengths(tokens_dir: Path) -> dict[int, float]:
    """Token share of each piece length over the corpus: what sampling the pieces uniformly would give."""
    totals: dict[int, float] = {}
    for domain in SOURCES:
        for n, count in (
            TokenShard(bucket_stem(tokens_dir, domain, "high/any")).header["pieces"].items()
        ):
            totals[int(n)] = totals.get(int(n), 0.0) + int(n) * count
    return {n: round(t / sum(totals.values()), 4) for n, t in sorted(totals.items())}


def curriculum(tokens: int, sequence: SequenceSpec, metadata: MetadataSpec | None) -> Curriculum:
    lr = LRSegment(schedule="cosine", peak=2e-3, final=2e-4, warmup_tokens=tokens // 20)
    mixture = {d: DomainMix(share=s) for d, s in SHARES.items()}
    return Curriculum(
        phases=[
            Phase(
                "bench",
                tokens,
                init="scratch",
                lr=lr,
                mixture=mixture,
                sequence=sequence,
                metadata=metadata,
            )
        ]
    )


def run(name: str, config: TrainConfig, spec: Curriculum, tokens_dir: Path, out: Path) -> dict:
    start = time.perf_counter()
    final = train(config, spec, tokens_dir, out / name)
    lines = [json.loads(line) for line in (out / name / "metrics.jsonl").read_text().splitlines()]
    windows = [line["tokens_per_s"] for line in lines if "tokens_per_s" in line]
    return {
        "final": final,
        "wall_s": time.perf_counter() - start,
        # windows hold equal tokens, so the harmonic mean is tokens over time; the first third warms up
        "tokens_per_s": statistics.harmonic_mean(windows[len(windows) // 3 :]),
        "val": [line for line in lines if "val" in line][-1]["val"],
    }


def time_per_token(
    config: TrainConfig,
    tokens_dir: Path,
    out: Path,
    specs: dict[str, SequenceSpec],
    steps: int,
    repeats: int,
) -> dict[str, float]:
    """Best tokens/s of each sequence setting over ``repeats`` alternated runs of ``steps`` steps."""
    timing = dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, max_epochs=1000.0),
        eval=dataclasses.replace(config.eval, val_sequences=1),
    )
    tokens = steps * config.optim.micro_batch * config.model.seq_len
    best: dict[str, float] = {}
    for repeat in range(repeats):
        for name, sequence in specs.items():
            speed = run(
                f"{name}-{repeat}", timing, curriculum(tokens, sequence, None), tokens_dir, out
            )["tokens_per_s"]
            best[name] = max(best.get(name, 0.0), speed)
    return best


@torch.no_grad()
def steering(
    final: Path, tokens_dir: Path, span: int, documents: int
) -> dict[str, dict[str, float]]:
    """loss[domain][prefix domain]: the loss on the first ``span`` tokens of ``domain``'s held-out documents behind
    the prefix filled for ``prefix domain`` ("none": behind an end-of-text token only, as in plain text)."""
    model = AutoModelForCausalLM.from_pretrained(final).eval()
    prefixer = Prefixer(TEMPLATE, Tokenizer.from_file(str(tokens_dir / "tokenizer.json")))
    prefixes = {d: prefixer.ids({"source": s, "domain": d}) for d, s in SOURCES.items()}
    prefixes["none"] = np.zeros(
        1, dtype=np.int64
    )  # EOS, what precedes a document in plain training text
    table = {}
    for domain in SOURCES:
        shard = TokenShard(val_stem(tokens_dir, domain))
        starts = [int(s) for s, e in zip(shard.offsets[:-1], shard.offsets[1:]) if e - s >= span][
            :documents
        ]
        docs = torch.tensor(np.stack([shard.tokens[s : s + span] for s in starts]).astype(np.int64))
        table[domain] = {}
        for name, prefix in prefixes.items():
            inputs = torch.cat([torch.from_numpy(prefix).expand(len(docs), -1), docs], dim=1)
            targets = inputs[:, 1:].clone()
            targets[:, : len(prefix) - 1] = IGNORE
            logits = model(input_ids=inputs[:, :-1]).logits
            table[domain][name] = float(
                F.cross_entropy(
                    logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE
                )
            )
    return table


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=300_000, help="training tokens of every run")
    parser.add_argument("--chars", type=int, default=2_000_000, help="corpus characters per domain")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1 beats 2 on a shared 2-core machine)",
    )
    parser.add_argument("--timing-steps", type=int, default=20, help="steps of each timing run")
    parser.add_argument(
        "--repeats", type=int, default=2, help="alternated timing runs of each setting"
    )
    parser.add_argument(
        "--documents",
        type=int,
        default=48,
        help="held-out documents per domain in the steering test",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the corpus and tokens here (reused) instead of a temporary folder",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = from_mapping(
        TrainConfig,
        {
            "seed": 0,
            "threads": args.threads,
            "log_every_steps": 5,
            "model": {"preset": "tiny", "seq_len": args.seq_len},
            "tokenizer": {"vocab_size": 4096, "sample_chars": 3_000_000},
            "optim": {"micro_batch": args.micro_batch},
            "data": {"val_fraction": 0.05, "min_piece": 32},
            "eval": {"val_sequences": 32, "tensorboard": False},
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        shards, tokens_dir = root / "shards", root / "tokens"
        if not shards.exists():
            print(f"corpus: {write_corpus(shards, args.chars)} documents per domain")
        tokenize_shards(shards, tokens_dir, config)
        lengths = natural_lengths(tokens_dir)
        shutil.rmtree(
            root / "runs", ignore_errors=True
        )  # a run found there would be resumed, not timed
        decomposed = SequenceSpec(mode="decomposed", lengths=lengths, schedule="cyclic")
        equal = SequenceSpec(
            mode="decomposed", lengths={n: 1.0 for n in lengths}, schedule="cyclic"
        )
        speeds = time_per_token(
            config,
            tokens_dir,
            root / "runs" / "timing",
            {"concat": SequenceSpec(), "decomposed": decomposed, "decomposed-equal": equal},
            args.timing_steps,
            args.repeats,
        )
        specs = {
            "concat": (SequenceSpec(), None),
            "decomposed": (decomposed, None),
            "meco": (SequenceSpec(), MetadataSpec(template=TEMPLATE, until=0.9)),
        }
        results = {
            name: run(name, config, curriculum(args.tokens, *spec), tokens_dir, root / "runs")
            for name, spec in specs.items()
        }
        span = args.seq_len // 2
        steer = {
            name: steering(results[name]["final"], tokens_dir, span, args.documents)
            for name in ("concat", "meco")
        }
    print(
        f"setup: tiny preset, seq_len {args.seq_len}, {args.tokens:,} tokens per run, "
        f"{config.optim.micro_batch * args.seq_len} tokens per step, shares {SHARES}; decomposed lengths {lengths}"
    )
    for name in ("decomposed", "decomposed-equal"):
        print(
            f"curricula_{name.replace('-', '_')}_vs_concat: {speeds[name]:,.0f} vs {speeds['concat']:,.0f} tokens/s = "
            f"{speeds[name] / speeds['concat']:.2f}x (best of {args.repeats} alternated {args.timing_steps}-step runs)"
        )
    print(
        "wall time of the training runs: "
        + ", ".join(f"{name} {r['wall_s']:.0f} s" for name, r in results.items())
    )
    print("final validation loss on plain text (concat windows of seq_len):")
    for name, result in results.items():
        print(
            f"  {name:<11}"
            + "  ".join(f"{d} {loss:.4f}" for d, loss in sorted(result["val"].items()))
            + f"  mean {statistics.mean(result['val'].values()):.4f}"
        )
    print(
        f"steering: loss on the first {span} tokens of {args.documents} held-out documents per domain behind "
        "their own domain's prefix, the other domains' (mean), or none"
    )
    for name, table in steer.items():
        for domain, row in table.items():
            others = [loss for p, loss in row.items() if p not in (domain, "none")]
            print(
                f"  {name:<7}{domain:<8} own {row[domain]:.4f}  others {statistics.mean(others):.4f}  "
                f"none {row['none']:.4f}  (other - own = {statistics.mean(others) - row[domain]:+.4f})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
