#!/usr/bin/env bash
# Trains the base model, then the pilots N at a time; a finished run is skipped, a killed one resumes.
# Usage: ./run_pilots.sh [N] [--set KEY=VALUE ...]  (the overrides reach every trainer run, e.g. --set compile=false)
# Needs only torch, transformers, tokenizers, numpy and pyyaml ($PYTHON, default python3).
# Then copy this directory's plan/ back (model weights are not needed) and run
# `critmix plan --import-pilots <this directory>` with the config it was exported with.
# `critmix plan --export-pilots` copies this file as it is; the runs themselves are in pilot_jobs.sh.
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

# pilot_jobs.sh defines train_base, train_pilots and outputs (the base model's and every pilot's directory).
source ./pilot_jobs.sh
train_base
finished plan/base || exit 1
train_pilots
wait
finished "${outputs[@]}" && echo "base and pilots done"
