"""A curate run: sources -> normalized, filtered, deduplicated, bucketed shards.

Stages run in order, each reading the previous stage's directory under ``work/``:
  ingest (per document) -> [boilerplate] -> exact_dedup -> quality -> minhash -> buckets -> shards.
Every stage is phases of tasks on the configured datatrove executor (local, Ray, or Slurm array
jobs, see stages/tasks.py); the main process only plans, waits and records. A stage whose key (its
config and its input's key) matches a finished stage in the manifest is skipped; ``--force``
reruns everything. A killed stage resumes at its first unfinished task.
"""
