#!/usr/bin/env bash
# Our Winograd F(4×4, 3×3) kernels against oneDNN's direct convolutions, forward,
# backward-data and backward-weights, one thread, per shape and images per call (Benchmarks/winograd_compare.c): a
# Markdown table of the best of R alternating rounds each, and how far ours is from oneDNN's output.
#
#   Benchmarks/winograd_compare.sh [--rounds 7] [--pass forward|backward-data|backward-weights]
#
# Needs `libdnnl-dev` (Debian, oneDNN 2.6.3), a C compiler and a CPU with AVX2 and FMA.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: $0 [--rounds R] [--pass P] (R from 1 to 1000, default 7; P one of forward, backward-data, backward-weights, default all)"
rounds=7
pass=
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) [ $# -ge 2 ] || { echo "$0: --rounds needs a value; $usage" >&2; exit 1; }; rounds=$2; shift 2 ;;
        --pass)
            [ $# -ge 2 ] || { echo "$0: --pass needs a value; $usage" >&2; exit 1; }
            case "$2" in
                forward | backward-data | backward-weights) pass=$2 ;;
                *) echo "$0: --pass takes forward, backward-data or backward-weights, got '$2'" >&2; exit 1 ;;
            esac
            shift 2 ;;
        -h | --help) echo "$usage"; exit 0 ;;
        *) echo "$0: unknown argument '$1'; $usage" >&2; exit 1 ;;
    esac
done
case "$rounds" in
    '' | *[!0-9]* | 0*) echo "$0: --rounds takes a whole number from 1 to 1000, got '$rounds'" >&2; exit 1 ;;
esac
[ "${#rounds}" -le 4 ] && [ "$rounds" -le 1000 ] || { echo "$0: --rounds takes a whole number from 1 to 1000, got '$rounds'" >&2; exit 1; }
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || { echo "$0: oneDNN headers missing; apt-get install libdnnl-dev" >&2; exit 1; }

work=$(mktemp -d /tmp/winograd_compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The product's compiler and flags for these kernels (Package.swift): clang, -O2, no contraction.
compiler=$(command -v clang || command -v cc)
"$compiler" -O2 -ffp-contract=off -ISources/CWinograd/include Benchmarks/winograd_compare.c Sources/CWinograd/winograd.c \
    -ldnnl -lgomp -lm -o "$work/winograd_compare"
OMP_NUM_THREADS=1 "$work/winograd_compare" "$rounds" $pass
