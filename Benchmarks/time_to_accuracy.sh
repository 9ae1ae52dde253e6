#!/usr/bin/env bash
# Time to a test accuracy on Fashion-MNIST: `localsgd train` against PyTorch (pytorch_train.py)
# with the same model, recipe and threads, run one after the other on the same machine.
#
#   Benchmarks/time_to_accuracy.sh PYTHON [--model cnn] [--target 0.91] [--epochs 3] [--batch 128] [--threads 2] [--seed 1]
#
# Prints each side's accuracy and cumulative seconds (training + evaluation) per epoch, the time
# at which each first reaches the target, and ours / PyTorch's. Needs a release build
# (swift build -c release) and torch in PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:?usage: Benchmarks/time_to_accuracy.sh PYTHON [--model M] [--target A] [--epochs E] [--batch B] [--threads T] [--seed S]}
shift
model=cnn target=0.91 epochs=3 batch=128 threads=2 seed=1
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "time_to_accuracy.sh: $1 needs a value" >&2; exit 2; }
    case "$1" in
        --model) model=$2 ;; --target) target=$2 ;; --epochs) epochs=$2 ;;
        --batch) batch=$2 ;; --threads) threads=$2 ;; --seed) seed=$2 ;;
        *) echo "time_to_accuracy.sh: unknown flag $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ -x .build/release/localsgd ] || { echo "time_to_accuracy.sh: build first: swift build -c release" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
.build/release/localsgd train --model "$model" --epochs "$epochs" --batch-size "$batch" --threads "$threads" --seed "$seed" \
    --quiet --out "$out/ours" > /dev/null
"$python" Benchmarks/pytorch_train.py --model "$model" --epochs "$epochs" --batch "$batch" \
    --threads "$threads" --seed "$seed" > "$out/torch.jsonl"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out/ours/metrics.jsonl" "$out/torch.jsonl" "$target" "$model" "$batch" "$threads" <<'PY'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
torch = [json.loads(l) for l in open(sys.argv[2])]
target = float(sys.argv[3])
print(f"{sys.argv[4]}, batch {sys.argv[5]}, {sys.argv[6]} threads; seconds are cumulative training + evaluation")
print("epoch  ours acc  ours s  torch acc  torch s")
elapsed = 0.0
ours_s = []
for o in ours:
    elapsed += o["seconds"]
    ours_s.append(elapsed)
for i in range(max(len(ours), len(torch))):
    o = f"{ours[i]['test_accuracy'] * 100:7.2f}%  {ours_s[i]:6.1f}" if i < len(ours) else " " * 16
    t = f"{torch[i]['test_accuracy'] * 100:8.2f}%  {torch[i]['seconds']:7.1f}" if i < len(torch) else ""
    print(f"{i + 1:5d}  {o}  {t}")
def first(rows, seconds):
    return next((s for r, s in zip(rows, seconds) if r["test_accuracy"] >= target), None)
a, b = first(ours, ours_s), first(torch, [t["seconds"] for t in torch])
fmt = lambda s: "not reached" if s is None else f"{s:.1f} s"
print(f"time to {target * 100:.1f}%: ours {fmt(a)}, PyTorch {fmt(b)}" + (f", ratio {a / b:.2f}" if a and b else ""))
PY
