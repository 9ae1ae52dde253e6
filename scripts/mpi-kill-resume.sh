#!/usr/bin/env bash
# The kill-one-rank scenario, TRIES times: `mpirun -np 2 localsgd train --backend mpi --algorithm
# local --checkpoint-every 3`, `kill -9` of one rank (alternately 1 and 0) at a random moment after
# both wrote a checkpoint, then `--resume`; final.safetensors must equal, byte for byte, that of an
# uninterrupted run. Prints one line per try and "N/TRIES bitwise"; exits non-zero unless all are.
# Usage: scripts/mpi-kill-resume.sh [TRIES] [LOCALSGD]   (default 20, .build/debug/localsgd)
set -uo pipefail
cd "$(dirname "$0")/.."
tries=${1:-20}
bin=$(realpath "${2:-.build/debug/localsgd}")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d /tmp/localsgd-kill-XXXXXX)
trap 'rm -rf "$work"' EXIT
args=(train --backend mpi --workers 2 --dataset synthetic --synthetic-train 2048 --synthetic-test 32
      --model mlp --epochs 2 --batch-size 8 --threads 1 --algorithm local --local-steps 4
      --checkpoint-every 3 --quiet)
mpirun() { command mpirun --oversubscribe -np 2 "$bin" "$@"; }

# The pid of rank $1 of the job writing into $2.
rank_pid() {
    for e in /proc/[0-9]*/environ; do
        p=${e%/environ}; p=${p#/proc/}
        { tr "\0" "\n" < "$e"; } 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" || continue
        { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$2" && { echo "$p"; return; }
    done
}
newest() { ls "$1/checkpoints" 2>/dev/null | grep -- "-rank-$2\.safetensors$" | sort | tail -1 | cut -c6-13; }

mpirun "${args[@]}" --out "$work/full" > "$work/full.log" 2>&1 || { cat "$work/full.log"; exit 1; }
same=0
for i in $(seq 1 "$tries"); do
    dir=$work/run-$i victim=$((i % 2))
    mpirun "${args[@]}" --out "$dir" > "$work/run-$i.log" 2>&1 &
    job=$!
    until [ -n "$(newest "$dir" 0)" ] && [ -n "$(newest "$dir" 1)" ] || ! kill -0 "$job" 2>/dev/null; do sleep 0.05; done
    sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", rand() * 3 }')"
    pid=$(rank_pid "$victim" "$dir")
    [ -n "$pid" ] && kill -9 "$pid"
    wait "$job"; status=$?
    held="rank 0 at $(newest "$dir" 0), rank 1 at $(newest "$dir" 1)"
    mpirun train --resume "$dir" --quiet > "$work/resume-$i.log" 2>&1; resumed=$?
    if [ "$resumed" = 0 ] && cmp -s "$work/full/final.safetensors" "$dir/final.safetensors"; then
        same=$((same + 1)); verdict=bitwise
    else
        verdict="DIFFERENT (resume exit $resumed)"; tail -3 "$work/resume-$i.log"
    fi
    echo "try $i: killed rank $victim${pid:+ (pid $pid)}, job exit $status, $held; resume: $verdict"
done
echo "$same/$tries bitwise"
[ "$same" = "$tries" ]
