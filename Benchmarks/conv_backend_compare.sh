#!/usr/bin/env bash
# Our convolutions against oneDNN's (`--conv-backend blas` against `onednn`) in whole training steps,
# in alternating rounds so that both see the same machine load:
#   round r: localsgd bench --conv-backend blas, then --conv-backend onednn (the other order in odd rounds)
# each over every model × batch × threads given; then one table: medians of ms per step over the
# rounds, their ratio blas / onednn (above 1: oneDNN is faster) and the median of the rounds' own
# ratios, with the 1-minute load seen at the rounds' starts.
#
#   Benchmarks/conv_backend_compare.sh [--models resnet20,cnn] [--batches 32,128] [--threads 1]
#                                      [--rounds 7] [--steps 10] [--cpu-time] [--bin PATH]
#
# --cpu-time times process CPU time (robust against other processes on the cores, meaningful for
# one thread only). Needs python3; builds localsgd (release) if --bin is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

models=resnet20,cnn batches=32,128 threads=1 rounds=7 steps=10 cpu=() bin=.build/release/localsgd
usage() { sed -n '2,14s/^# \{0,1\}//p' "$0" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --models | --batches | --threads | --rounds | --steps | --bin)
            [ $# -ge 2 ] || usage
            case "$1" in
                --models) models=$2 ;; --batches) batches=$2 ;; --threads) threads=$2 ;;
                --rounds) rounds=$2 ;; --steps) steps=$2 ;; --bin) bin=$2 ;;
            esac
            shift 2 ;;
        --cpu-time) cpu=(--cpu-time); shift ;;
        *) usage ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $steps =~ ^[1-9][0-9]*$ ]] || { echo "$0: --rounds and --steps take positive integers" >&2; exit 1; }
[ -x "$bin" ] || swift build -c release --product localsgd

work=$(mktemp -d /tmp/conv_backend_compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
bench() {
    "$bin" bench --models "$models" --batches "$batches" --threads "$threads" --steps "$steps" --warmup 3 --rounds 1 \
        --json "${cpu[@]}" --conv-backend "$1" | sed "s/^/$2 /" >> "$work/rows"
}
for r in $(seq 1 "$rounds"); do
    cut -d' ' -f1 /proc/loadavg >> "$work/load"
    if (( r % 2 )); then bench blas "$r"; bench onednn "$r"; else bench onednn "$r"; bench blas "$r"; fi
done

python3 - "$work" "${#cpu[@]}" "$rounds" <<'EOF'
import json, statistics, sys
work, cpu, rounds = sys.argv[1], sys.argv[2] != "0", int(sys.argv[3])
loads = [float(x) for x in open(f"{work}/load")]
times = {}  # (model, batch, threads) -> backend -> {round: ms}
for line in open(f"{work}/rows"):
    r, row = line.split(" ", 1)
    row = json.loads(row)
    key = (row["model"], row["batch"], row["threads"])
    times.setdefault(key, {}).setdefault(row["conv_backend"], {})[int(r)] = row["ms_per_step"]
print(f"{rounds} alternating rounds, {'process CPU time' if cpu else 'wall clock'}, ms per training step (medians); "
      f"1-minute load {min(loads):.1f}–{max(loads):.1f}\n")
print("| model | batch | threads | blas ms | onednn ms | blas / onednn | median of rounds' ratios (min–max) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (model, batch, threads), t in times.items():
    ours, theirs = t["blas"], t["onednn"]
    ratios = [ours[r] / theirs[r] for r in ours if r in theirs]
    o, d = statistics.median(ours.values()), statistics.median(theirs.values())
    print(f"| {model} | {batch} | {threads} | {o:.2f} | {d:.2f} | {o / d:.2f}× | "
          f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) |")
EOF
