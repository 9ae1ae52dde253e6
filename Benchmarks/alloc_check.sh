#!/usr/bin/env bash
# Heap allocations of N and 2N training steps under valgrind: equal counts mean a step does not
# allocate. Usage, from the repository root: Benchmarks/alloc_check.sh [models] [threads] [N]
# (defaults: mlp,cnn,resnet20, "1 2", 2). Takes a few minutes (resnet20 ~10 s per step here).
# Valgrind 3.19 cannot read the DWARF 5 of Swift binaries nor run AVX-512: the binary is copied
# without debug information and OpenBLAS is given its AVX2 kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
models=${1:-mlp,cnn,resnet20}
threads=${2:-1 2}
n=${3:-2}
swift build -c release --product localsgd >&2
binary=$(mktemp /tmp/localsgd-nodebug.XXXXXX)
trap 'rm -f "$binary"' EXIT
cp .build/release/localsgd "$binary"
strip -g "$binary"
chmod +x "$binary"
for model in ${models//,/ }; do
  for t in $threads; do
    counts=()
    for steps in "$n" $((2 * n)); do
      allocs=$(OPENBLAS_CORETYPE=Haswell valgrind --tool=memcheck "$binary" bench --models "$model" --batches 32 \
                 --threads "$t" --steps "$steps" --warmup 1 --rounds 1 2>&1 >/dev/null \
               | sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p')
      counts+=("$allocs")
    done
    verdict=$([ "${counts[0]}" = "${counts[1]}" ] && echo "no allocation in a step" || echo "ALLOCATES")
    echo "$model b32 threads $t: $n steps ${counts[0]} allocs, $((2 * n)) steps ${counts[1]} allocs: $verdict"
  done
done
