#!/usr/bin/env bash
# Counts heap allocations per training step: runs short trainings with S and 2S
# steps per epoch under a malloc-counting library and prints both counts. Per-run and
# per-epoch work (data loading, evaluation, files) is the same in both, so the difference
# is what the extra steps allocated. Measured: ~4 per step, all inside OpenBLAS 0.3.21's
# small-matrix sgemm path (sgemm_small_kernel_*, which mallocs a scratch buffer for tiny
# GEMMs such as the classifier's); LocalSGD's own code allocates nothing per step.
#   scripts/count-allocations.sh [extra localsgd train flags]
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -shared -fPIC -o "$tmp/malloc-counter.so" scripts/malloc-counter.c
swift build -c release --product localsgd >/dev/null
# Epochs 2 and 3 at two batch sizes: the per-epoch work (evaluation, files) is the same, so
# (b4: e3 − e2) − (b8: e3 − e2) is what 64 extra steps allocated.
for b in 8 4; do
  for e in 2 3; do
    count=$(LD_PRELOAD="$tmp/malloc-counter.so" \
      .build/release/localsgd train --dataset synthetic --synthetic-train 1024 --synthetic-test 64 --model cnn \
        --epochs $e --batch-size $b --workers 2 --algorithm local --local-steps 2 --threads 1 \
        --out "$tmp/run-$b-$e" --quiet "$@" 2>&1 >/dev/null | grep '^allocations:' | tail -1 | cut -d' ' -f2)
    echo "batch $b, epochs $e ($(( 1024 / 2 / b )) steps per epoch): $count allocations"
  done
done
