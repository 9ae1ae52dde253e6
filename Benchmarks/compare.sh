#!/usr/bin/env bash
# Our training step against PyTorch's on this machine, alternating in one run (see
# `localsgd bench --help`). Usage, from the repository root:
#   Benchmarks/compare.sh [PYTHON] [extra bench flags, e.g. --json --models cnn --layers]
# PYTHON, a Python with torch, defaults to /tmp/peers-venv/bin/python; set that venv up with
#   python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install numpy torch
# (a CPU-only torch is enough: if pip's find-links directory has such a wheel, name its version,
# e.g. "torch==2.13.0+cpu"; Benchmarks/README.md, "PyTorch"). The PyTorch side runs our models
# and step as written in Benchmarks/pytorch_models.py.
set -euo pipefail
cd "$(dirname "$0")/.."
python=/tmp/peers-venv/bin/python
# The first argument is PYTHON unless it is already a bench flag.
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then python=$1; shift; fi
python=$(command -v "$python" || echo "$python")  # bench starts it by path, without searching PATH

swift build -c release --product localsgd >&2
# FMA peak of one core, from a register-only AVX-512 (else AVX2) FMA loop.
peak_bin=$(mktemp /tmp/fma_peak.XXXXXX)
trap 'rm -f "$peak_bin"' EXIT
clang -O2 -march=native Benchmarks/fma_peak.c -o "$peak_bin"
peak=$("$peak_bin")
echo "FMA peak of one core: $peak GFLOP/s; $(uptime)" >&2
.build/release/localsgd bench --compare-pytorch "$python" --peak-gflops "$peak" "$@"
