#!/usr/bin/env bash
# `compare.sh` several times, one run after another, and one table of the medians over the runs:
# ours and PyTorch's ms per step, the speedup (the median of each run's ratio) with its range over
# the runs, and our step's % of the FMA peak. On a machine shared with others a run's numbers move
# by 10–30 % from one run to the next (Benchmarks/README.md), more than between the alternating
# rounds inside one run; medians over runs say more than any single table. Usage, from the
# repository root:
#   Benchmarks/compare_runs.sh RUNS [PYTHON] [extra bench flags, e.g. --models resnet20 --batches 32]
# Every run's JSON lines stay in a directory named at the end (BENCH_RUNS_DIR to choose it).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: Benchmarks/compare_runs.sh RUNS [PYTHON] [bench flags]"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 1; }
runs=$1
shift
case "$runs" in
    ''|*[!0-9]*) echo "compare_runs.sh: RUNS must be a whole number from 1 to 100, got '$runs'; $usage" >&2; exit 1 ;;
esac
if [ "$runs" -lt 1 ] || [ "$runs" -gt 100 ]; then
    echo "compare_runs.sh: RUNS must be a whole number from 1 to 100, got '$runs'" >&2
    exit 1
fi
python=/tmp/peers-venv/bin/python
# The argument after RUNS is PYTHON unless it is already a bench flag.
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then python=$1; shift; fi
command -v "$python" >/dev/null || { echo "compare_runs.sh: no Python at '$python' (a Python with torch; see compare.sh)" >&2; exit 1; }
python=$(command -v "$python")  # bench starts it by path, without searching PATH
dir=${BENCH_RUNS_DIR:-$(mktemp -d /tmp/compare-runs.XXXXXX)}
mkdir -p "$dir"
for r in $(seq 1 "$runs"); do
    echo "run $r of $runs: $(uptime)" >&2
    Benchmarks/compare.sh "$python" --json "$@" > "$dir/run_$r.jsonl"
done
clock="ms"
for a in "$@"; do [ "$a" = "--cpu-time" ] && clock="CPU ms"; done
python3 - "$dir" "$runs" "$clock" <<'PY'
import json, statistics, sys
from pathlib import Path

folder, runs, clock = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rows = {}
for r in range(1, runs + 1):
    for line in (folder / f"run_{r}.jsonl").read_text().splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        if "pytorch_ms_per_step" not in o:
            continue
        rows.setdefault((o["model"], o["batch"], o["threads"]), []).append(o)
if not rows:
    sys.exit(f"compare_runs.sh: no configuration with PyTorch's time in {folder}")
print(f"medians over {runs} runs of Benchmarks/compare.sh (speedup: each run's PyTorch ms / ours; range over the runs)")
print(f"| model | batch | threads | ours {clock} | PyTorch {clock} | speedup | runs | % of peak |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
order = {m: i for i, m in enumerate(dict.fromkeys(k[0] for k in rows))}
for key in sorted(rows, key=lambda k: (order[k[0]], k[1], k[2])):
    v = rows[key]
    speedups = [o["speedup"] for o in v]
    peaks = [100 * o["gflops"] / o["peak_gflops"] for o in v if o.get("peak_gflops")]
    peak = f"{statistics.median(peaks):.0f} %" if peaks else "-"
    print(f"| {key[0]} | {key[1]} | {key[2]} | {statistics.median(o['ms_per_step'] for o in v):.2f} "
          f"| {statistics.median(o['pytorch_ms_per_step'] for o in v):.2f} | {statistics.median(speedups):.2f}× "
          f"| {min(speedups):.2f}–{max(speedups):.2f}× ({len(v)}) | {peak} |")
print(f"runs: {folder}")
PY
