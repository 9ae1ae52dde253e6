#!/usr/bin/env bash
# What a lost rank costs under `localsgd launch`: starts `localsgd launch --np RANKS -- TRAIN-ARGS
# --out DIR`, and KILLS times, each a few seconds (DELAY, plus up to 2 s at random) after the run
# trains again, `kill -9`s one rank (alternately the last rank and rank 0; `--signal STOP` stops
# it instead, which the train arguments' --collective-timeout must catch). Then prints, per
# kill, from the kill times and DIR/events.jsonl: seconds until mpirun's exit was seen, until
# the restart began (probe done), until the first step after the restart ("training again"),
# the checkpoint resumed from and the steps redone; and launch's totals. Exits non-zero unless
# the run finished.
# Usage: scripts/launch-recovery.sh [--kills N] [--ranks R] [--delay S] [--signal KILL|STOP] [--binary PATH] [--keep DIR] -- TRAIN-ARGS
#   (TRAIN-ARGS without --out; they must include --checkpoint-every)
set -uo pipefail
cd "$(dirname "$0")/.."
kills=2 ranks=2 delay=4 signal=KILL bin=.build/release/localsgd keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2;;
    --ranks) ranks=$2; shift 2;;
    --delay) delay=$2; shift 2;;
    --signal) signal=$2; shift 2;;
    --binary) bin=$2; shift 2;;
    --keep) keep=$2; shift 2;;
    --) shift; break;;
    *) echo "launch-recovery: unknown option '$1'" >&2; exit 2;;
  esac
done
bin=$(realpath "$bin")
work=$(mktemp -d /tmp/localsgd-recovery-XXXXXX)
dir=$work/run
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
"$bin" launch --np "$ranks" --max-restarts "$kills" -- "$@" --out "$dir" > "$work/launch.log" 2>&1 &
job=$!

# The pid of rank $1 of this job (its environment names the rank, its command line the run).
rank_pid() {
  for e in /proc/[0-9]*/environ; do
    p=${e%/environ}; p=${p#/proc/}
    { tr "\0" "\n" < "$e"; } 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" || continue
    { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$dir" && { echo "$p"; return; }
  done
}
# Training (at least one step) since the last restart: as many "resumed" events as kills so far,
# and a checkpoint written.
trained() { [ "$(grep -c '"kind":"resumed"' "$dir/events.jsonl" 2>/dev/null)" -ge "$1" ] && ls "$dir/checkpoints" 2>/dev/null | grep -q .; }

: > "$work/kills"
for i in $(seq 1 "$kills"); do
  until trained $((i - 1)) || ! kill -0 "$job" 2>/dev/null; do sleep 0.05; done
  sleep "$(awk -v s="$RANDOM" -v d="$delay" 'BEGIN { srand(s); printf "%.2f", d + rand() * 2 }')"
  victim=$(( i % 2 == 1 ? ranks - 1 : 0 ))
  pid=$(rank_pid "$victim")
  [ -n "$pid" ] && kill -0 "$job" 2>/dev/null || { echo "launch-recovery: the run ended before kill $i" >&2; break; }
  kill -"$signal" "$pid"; echo "$(date +%s.%N) $victim" >> "$work/kills"
  echo "launch-recovery: kill $i: rank $victim (pid $pid), load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
wait "$job"; status=$?
grep '^launch' "$work/launch.log" >&2
python3 - "$dir/events.jsonl" "$work/kills" <<'EOF'
import datetime, json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kills = [l.split() for l in open(sys.argv[2]) if l.strip()]
t = lambda e: datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
after = lambda kind, since: next((e for e in events if e["kind"] == kind and t(e) >= since), None)
print("kill  rank  failure seen s  restart s  training again s  from checkpoint  steps redone")
for i, (when, rank) in enumerate(kills, 1):
    when = float(when)
    f, r, x = after("failure", when), after("restart", when), after("resumed", when)
    cell = lambda e, key=None: "-" if e is None else ("%.2f" % (t(e) - when) if key is None else str(e.get(key, "-")))
    print("%4d  %4s  %14s  %9s  %16s  %15s  %12s" % (i, rank, cell(f), cell(r), cell(x), cell(x, "checkpoint_step"), cell(x, "steps_redone")))
end = events[-1]
print("%s: %d restarts, %.1f s in all, %.1f s lost, %d steps redone" % (end["kind"], end.get("restarts", 0), end.get("seconds", 0),
      end.get("seconds_lost", 0), end.get("steps_redone", 0)))
EOF
[ -n "$keep" ] && { mkdir -p "$keep"; cp "$dir/events.jsonl" "$dir/summary.json" "$work/launch.log" "$work/kills" "$keep/" 2>/dev/null; }
[ "$status" -eq 0 ]
