#!/usr/bin/env bash
# Counts heap allocations of training steps under a malloc-counting library
# (scripts/malloc-counter.c; valgrind 3.19 cannot read Swift 6.3's DWARF 5).
#
# 1. The step alone: `localsgd bench` with 4 and with 40 timed steps (forward, loss, backward,
#    optimizer) for each model and thread count; equal counts mean the step allocates nothing.
# 2. The training loop: `localsgd train` with S and 2S steps per epoch (data, strategy,
#    averaging included). Whole-run counts vary by a few hundred between identical runs
#    (thread start-up, timers), so read this part as a bound, not to the unit.
#   scripts/count-allocations.sh [models, default "mlp cnn resnet20"]
# CONV_BACKEND=onednn counts with oneDNN's convolutions, the product's default (whose dnnl_primitive_execute allocates
# its argument map on every call: about 3 blocks each, none of them ours).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -shared -fPIC -o "$tmp/malloc-counter.so" scripts/malloc-counter.c
swift build -c release --product localsgd >/dev/null
# (If localsgd restarts itself with OPENBLAS_CORETYPE, exec skips the counter's exit report of
# the first image; the count printed is the restarted process's.)
count() { LD_PRELOAD="$tmp/malloc-counter.so" "$@" 2>&1 >/dev/null | grep '^allocations:' | tail -1 | cut -d' ' -f2; }
backend=${CONV_BACKEND:-blas}
echo "step alone (localsgd bench, batch 32, --conv-backend $backend):"
for m in ${1:-mlp cnn resnet20}; do
  for t in 1 2; do
    a=$(count .build/release/localsgd bench --models "$m" --batches 32 --threads "$t" --steps 4 --warmup 2 --rounds 1 --conv-backend "$backend")
    b=$(count .build/release/localsgd bench --models "$m" --batches 32 --threads "$t" --steps 40 --warmup 2 --rounds 1 --conv-backend "$backend")
    echo "  $m, $t thread(s): 4 steps $a, 40 steps $b allocations -> $(( (b - a) )) for 36 extra steps"
  done
done
echo "training loop (localsgd train, cnn, K = 2 local SGD, H = 2):"
for b in 8 4; do
  for e in 2 3; do
    n=$(count .build/release/localsgd train --dataset synthetic --synthetic-train 1024 --synthetic-test 64 --model cnn \
        --epochs $e --batch-size $b --workers 2 --algorithm local --local-steps 2 --threads 1 --conv-backend "$backend" \
        --out "$tmp/run-$b-$e" --quiet)
    echo "  batch $b, epochs $e ($(( 1024 / 2 / b )) steps per epoch): $n allocations"
  done
done
