#!/usr/bin/env bash
# The CMR at 350M planned from pilots at three widths <= 125M, against the pilot sweep at 350M itself,
# on one GPU (issue 23; not run yet: no device was lent when it was written).
#
# Widths 384, 512, 768 (the 125m preset: 768 wide, 12 layers; 384 takes the depth of the nearest
# preset, 6) under configs/gpu-125m.yaml, whose LRs are the 768-wide model's: each width scales them
# by 768/W and its base tokens by its parameters (docs/design.md, "Pilots at several sizes"). The
# target is width 1024 (the 350m preset's width; 24 layers). One domain (legal) and four ratios keep
# the four sweeps (3 pilot widths + the target's own) to 4 x 10 pilots of 2M tokens.
#
#   bash bench/gpu_sizes.sh                 # on a GPU host set up as the README's "GPU hosts" says
#   PARALLEL=4 bash bench/gpu_sizes.sh      # pilots at once (default 6, as the config)
#
# Prints each domain's planned CMR at 350M with its interval, the measured CMR of the 350M sweep,
# each pilot size's own CMR, and each plan's pilot tokens and wall time (bench/bench_sizes.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
"$PYTHON" bench/bench_sizes.py \
    --config configs/gpu-125m.yaml \
    --root runs/bench-sizes-gpu \
    --widths 384 512 768 \
    --target-width 1024 \
    --set "plan.domains=[legal]" \
    --set "plan.pilots.ratios=[0.25,0.5,0.75,1.0]" \
    --set "plan.pilots.parallel=${PARALLEL:-6}" \
    "$@"
