#!/usr/bin/env bash
# oneDNN's convolutions (Benchmarks/onednn_conv.c) beside ours (`localsgd bench --layers --conv-backend blas`), per layer
# shape, one thread, in alternating rounds so that both see the same machine load:
#   round r: ours (wall clock), oneDNN (wall and process CPU time), ours (--cpu-time)
# then one table per batch and clock: ours, oneDNN "any" (its own formats, no reorders), oneDNN
# "plain" (our [C, N, H, W] / OIHW tensors with every reorder counted), oneDNN "nchw" (created on plain
# NCHW, its gemm:jit), oneDNN "plain, 4 groups" (4 × plain at batch N/4: how a deterministic
# integration would call it — the fixed image groups of our Conv2d, one thread each, since oneDNN's
# weight gradient changes with its thread count), and the ratios ours / oneDNN (above 1: oneDNN is
# faster).
#
#   Benchmarks/onednn_compare.sh [--batches 32,128] [--rounds 7] [--models resnet20,cnn] [--repeats 5]
#
# Needs `libdnnl-dev` (Debian, oneDNN 2.6.3), a C compiler and python3; builds localsgd (release) if
# .build/release/localsgd is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

batches=32,128 rounds=7 models=resnet20,cnn repeats=5
while [ $# -gt 0 ]; do
    case "$1" in
        --batches) batches=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --models) models=$2; shift 2 ;;
        --repeats) repeats=$2; shift 2 ;;
        *) echo "usage: $0 [--batches 32,128] [--rounds 7] [--models resnet20,cnn] [--repeats 5]" >&2; exit 1 ;;
    esac
done
for m in ${models//,/ }; do
    case "$m" in resnet20|cnn) ;; *) echo "$0: --models takes resnet20 and cnn (the C program knows their layers), got '$m'" >&2; exit 1 ;; esac
done
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || { echo "$0: oneDNN headers missing; apt-get install libdnnl-dev" >&2; exit 1; }

work=$(mktemp -d /tmp/onednn_compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -fopenmp Benchmarks/onednn_conv.c -ldnnl -lm -lpthread -o "$work/onednn_conv"
[ -x .build/release/localsgd ] || swift build -c release --product localsgd
export OMP_NUM_THREADS=1

echo "oneDNN against naive loops in double (batch 2, every layer; plain runs the primitives of 'any' plus reorders):"
"$work/onednn_conv" --models "$models" --check > "$work/check.txt"
python3 - "$work/check.txt" <<'EOF'
import re, sys
rows = [re.findall(r"[-+]?\d+\.\d+(?:e[-+]\d+)?", l.split("batch 2:")[1]) for l in open(sys.argv[1])]
y, scale, dw, dx = (max(float(r[i]) for r in rows) for i in range(4))
print(f"  {len(rows)} layer checks (plain and nchw): max |y − naive| {y:.2e} (|y| up to {scale:.0f}), "
      f"|dW − naive| {dw:.2e}, |dx − naive| {dx:.2e}")
EOF

# The bench's layer timings take max(5, steps / 3) repeats; a few steps keep a round short.
steps=$(( repeats * 3 < 3 ? 3 : repeats * 3 ))
for b in ${batches//,/ }; do
    for r in $(seq 1 "$rounds"); do
        cut -d' ' -f1 /proc/loadavg >> "$work/load_$b"
        .build/release/localsgd bench --models "$models" --batches "$b" --threads 1 --layers --json --conv-backend blas \
            --steps "$steps" --warmup 2 --rounds 1 >> "$work/ours_wall_$b.json"
        "$work/onednn_conv" --models "$models" --batch "$b" --threads 1 --repeats "$repeats" >> "$work/onednn_$b.json"
        "$work/onednn_conv" --models "$models" --batch $(( (b + 3) / 4 )) --threads 1 --repeats "$repeats" \
            >> "$work/onednn_groups_$b.json"
        .build/release/localsgd bench --models "$models" --batches "$b" --threads 1 --layers --json --cpu-time --conv-backend blas \
            --steps "$steps" --warmup 2 --rounds 1 >> "$work/ours_cpu_$b.json"
    done
done

python3 - "$work" "$batches" "$rounds" <<'EOF'
import json, statistics, sys, os, platform
work, batches, rounds = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\nCPU: {cpu}; one thread; {rounds} alternating rounds, medians; ms per layer, forward + backward")
def rows(path): return [json.loads(l) for l in open(path) if l.strip()]
for b in batches:
    loads = [float(x) for x in open(f"{work}/load_{b}")]
    onednn = rows(f"{work}/onednn_{b}.json")
    groups = {}
    for o in rows(f"{work}/onednn_groups_{b}.json"):
        groups.setdefault((o["model"], o["shape"]), {"_ms": [], "_cpu_ms": []})
        for k in ("_ms", "_cpu_ms"): groups[(o["model"], o["shape"])][k].append(4 * o["plain" + k])
    for clock, ours_file, key in (("process CPU time", "ours_cpu", "_cpu_ms"), ("wall clock", "ours_wall", "_ms")):
        ours = {}   # (model, layer) -> [seconds per round]
        steps = {}
        for row in rows(f"{work}/{ours_file}_{b}.json"):
            steps.setdefault(row["model"], []).append(row["ms_per_step"])
            for t in row["layer_timings"]:
                ours.setdefault((row["model"], t["name"]), []).append((t["seconds"] * 1e3, t["flops"]))
        shapes = {}  # (model, shape) -> dict
        for o in onednn:
            s = shapes.setdefault((o["model"], o["shape"]), {"layers": o["layers"], "flops": o["flops"], "any": [], "plain": [], "direct": []})
            for mode in ("any", "plain", "direct"): s[mode].append(o[mode + key])
        print(f"\n### batch {b}, {clock} (1-minute load {min(loads):.1f}–{max(loads):.1f} on 2 cores)\n")
        print("| model | layer shape (in→out, kernel, stride, input) | layers | ours ms | GF/s | oneDNN any ms | GF/s | oneDNN plain ms | GF/s | oneDNN nchw ms | plain, 4 groups ms | ours/any | ours/plain | ours/nchw | ours/groups |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        totals = {}
        for (model, shape), s in shapes.items():
            samples = [t for name in s["layers"] for (t, f) in ours.get((model, name), [])]
            flop = {f for name in s["layers"] for (t, f) in ours.get((model, name), [])}
            if flop and flop != {s["flops"]}:
                sys.exit(f"FLOPs of {model} {shape} differ: ours {flop}, oneDNN {s['flops']} (layer tables out of step)")
            if not samples: sys.exit(f"no timing of ours for {model} {s['layers']}")
            g = statistics.median(groups[(model, shape)][key])  # shape strings carry no batch
            o, a, p, d = (statistics.median(x) for x in (samples, s["any"], s["plain"], s["direct"]))
            n = len(s["layers"])
            t = totals.setdefault(model, [0, 0, 0, 0, 0])
            for i, v in enumerate((o, a, p, d, g)): t[i] += n * v
            gf = lambda ms: s["flops"] / ms / 1e6
            print(f"| {model} | {shape} | {n} | {o:.3f} | {gf(o):.0f} | {a:.3f} | {gf(a):.0f} | {p:.3f} | {gf(p):.0f} | {d:.3f} | {g:.3f} | {o/a:.2f}× | {o/p:.2f}× | {o/d:.2f}× | {o/g:.2f}× |")
        for model, (o, a, p, d, g) in totals.items():
            step = statistics.median(steps[model])
            print(f"| {model} | **all convolutions** (ours: {100*o/step:.0f} % of a {step:.1f} ms step) | | {o:.2f} | | {a:.2f} | | {p:.2f} | | {d:.2f} | {g:.2f} | {o/a:.2f}× | {o/p:.2f}× | {o/d:.2f}× | {o/g:.2f}× |")
EOF
