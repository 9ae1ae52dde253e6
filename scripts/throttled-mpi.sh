#!/usr/bin/env bash
# Minibatch SGD vs local SGD over Open MPI on a bandwidth-limited emulated network.
#
# Builds a private network out of Linux network namespaces: one "switch" namespace holding a
# bridge, and one namespace per MPI rank joined to the bridge by a veth pair. Every veth end gets
# a `tc tbf` rate limit on egress, so each rank has RATE up and RATE down (a full-duplex NIC on a
# non-blocking switch). Ranks are started in their namespaces by mpirun, which runs inside the
# first rank's namespace and reaches the others through a tiny rsh "agent" that runs Open MPI's
# daemon with `ip netns exec`. Then it times one epoch of minibatch SGD and of local SGD for
# each H and rank count, prints a table and writes a CSV. Everything it creates (namespaces,
# veths, bridge, temporary files, processes in its namespaces) is removed on exit, also on
# failure or Ctrl-C. Run `scripts/throttled-mpi.sh --help` for the options; docs/MPI.md has
# results and background.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$script_dir")

usage() {
  cat <<'EOF'
Usage: scripts/throttled-mpi.sh [options] [-- extra `localsgd train` arguments]

Times one epoch of minibatch SGD and local SGD (H = 1, 2, 4, 8, 16) over Open MPI with one
rank per network namespace, on links limited by `tc tbf`, for 2 and 4 ranks. Prints a table
(algorithm, H, ranks, epoch seconds, communication seconds, speedup vs minibatch) and writes
it as CSV. Epoch seconds are training time (evaluation excluded); communication seconds
include waiting for the slowest rank. Needs root (namespaces, tc), `ip`, `tc`, `mpirun`
(Open MPI), python3 and a release build with MPI support (swift build -c release --product
localsgd).

Network:
  --rate RATE          tbf rate on every veth end, both directions (default 1gbit; tc syntax:
                       100mbit, 10gbit, ...)
  --no-limit           no tbf at all (veth + bridge at full speed)
  --burst SIZE         tbf burst (default 256kb)
  --subnet A.B.C       private /24 used inside the namespaces only (default 10.231.7)
  --loopback           no namespaces: plain `mpirun -np K` on this host with Open MPI's default
                       transports (shared memory between ranks); does not need root

Experiment:
  --ranks "LIST"       rank counts (default "2 4")
  --local-steps "LIST" H values of local SGD (default "1 2 4 8 16")
  --no-minibatch       skip the minibatch baseline (no speedup column then)
  --inject-latency S   passed to `localsgd train`: wait S seconds before every collective
                       (the kernel has no netem, so latency is emulated by the program)
  --workers-per-rank W workers per rank (default 1; K = ranks * W)
  --epochs N           epochs per run (default 1; the table reports seconds per epoch)
  --model NAME         model (default cnn)
  --dataset NAME       dataset (default fashion-mnist; synthetic in --quick)
  --synthetic-train N  training samples when --dataset synthetic (default 8192 in --quick)
  --threads N          --threads of every rank (default 1: one worker per rank)
  --repeats N          run all configurations N times (round robin), report the fastest of
                       each (default 1)
  --quick              synthetic data (8192 samples), H = 1 4 16: a few minutes in all

Bounds and output:
  --timeout S          kill a run after S seconds (default 900; 180 with --quick)
  --budget MIN         start no new run after MIN minutes (default 40; skipped runs are listed)
  --binary PATH        localsgd binary (default REPO/.build/release/localsgd)
  --csv FILE           CSV output (default ./throttled-mpi-MODE-TIMESTAMP.csv)
  --keep-runs DIR      copy every run's directory (summary.json, metrics.jsonl, log) to DIR
  --runs-csv FILE      also write every run (every repeat) as one CSV row to FILE
  --bench "BYTES..."   instead of training, time all-reduces of these sizes on the same links:
                       `localsgd-mpi-check --bench BYTES` per rank count (medians and fastest of
                       --bench-repeats), written to the CSV
  --bench-repeats N    repeats per size in --bench (default 20)
  --bench-binary PATH  localsgd-mpi-check binary (default next to --binary)
  --dry-run            set up the network, check that MPI ranks land in separate namespaces
                       and that the rate limit holds, then clean up without training
  -h, --help           this help

Examples:
  sudo scripts/throttled-mpi.sh --quick
  sudo scripts/throttled-mpi.sh                              # 1 Gbit, 2 and 4 ranks, ~20-30 min
  sudo scripts/throttled-mpi.sh --rate 100mbit --inject-latency 0.005 --local-steps "4 16"
  scripts/throttled-mpi.sh --loopback --local-steps "4 16"   # same runs without a network
EOF
}

die() { echo "throttled-mpi: error: $*" >&2; exit 1; }
log() { echo "throttled-mpi: $*" >&2; }

# ---------------------------------------------------------------- options
rate=1gbit; limit=1; burst=256kb; subnet=10.231.7; loopback=0
ranks_list="2 4"; hs_list="1 2 4 8 16"; minibatch=1; latency=""; wpr=1; epochs=1
model=cnn; dataset=""; syn_train=""; threads=1; repeats=1; quick=0
timeout_s=""; budget_min=40; binary="$repo_dir/.build/release/localsgd"; csv=""; keep_runs=""
runs_csv=""; bench_sizes=""; bench_repeats=20; bench_binary=""
dry_run=0; hs_given=0; extra=(); orig_args=("$@")

need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) need_arg "$@"; rate=$2; shift 2;;
    --no-limit) limit=0; shift;;
    --burst) need_arg "$@"; burst=$2; shift 2;;
    --subnet) need_arg "$@"; subnet=$2; shift 2;;
    --loopback) loopback=1; shift;;
    --ranks) need_arg "$@"; ranks_list=$2; shift 2;;
    --local-steps) need_arg "$@"; hs_list=$2; hs_given=1; shift 2;;
    --no-minibatch) minibatch=0; shift;;
    --inject-latency) need_arg "$@"; latency=$2; shift 2;;
    --workers-per-rank) need_arg "$@"; wpr=$2; shift 2;;
    --epochs) need_arg "$@"; epochs=$2; shift 2;;
    --model) need_arg "$@"; model=$2; shift 2;;
    --dataset) need_arg "$@"; dataset=$2; shift 2;;
    --synthetic-train) need_arg "$@"; syn_train=$2; shift 2;;
    --threads) need_arg "$@"; threads=$2; shift 2;;
    --repeats) need_arg "$@"; repeats=$2; shift 2;;
    --quick) quick=1; shift;;
    --timeout) need_arg "$@"; timeout_s=$2; shift 2;;
    --budget) need_arg "$@"; budget_min=$2; shift 2;;
    --binary) need_arg "$@"; binary=$2; shift 2;;
    --csv) need_arg "$@"; csv=$2; shift 2;;
    --keep-runs) need_arg "$@"; keep_runs=$2; shift 2;;
    --runs-csv) need_arg "$@"; runs_csv=$2; shift 2;;
    --bench) need_arg "$@"; bench_sizes=$2; shift 2;;
    --bench-repeats) need_arg "$@"; bench_repeats=$2; shift 2;;
    --bench-binary) need_arg "$@"; bench_binary=$2; shift 2;;
    --dry-run) dry_run=1; shift;;
    -h|--help) usage; exit 0;;
    --) shift; extra=("$@"); break;;
    *) die "unknown option '$1' (see --help)";;
  esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in $ranks_list; do is_uint "$v" && [ "$v" -ge 1 ] && [ "$v" -le 16 ] || die "--ranks takes numbers 1..16, got '$v'"; done
for v in $hs_list; do is_uint "$v" && [ "$v" -ge 1 ] || die "--local-steps takes positive numbers, got '$v'"; done
for v in $bench_sizes; do is_uint "$v" && [ "$v" -ge 4 ] || die "--bench takes sizes in bytes (at least 4), got '$v'"; done
for v in "$wpr" "$epochs" "$threads" "$repeats" "$budget_min" "$bench_repeats"; do
  is_uint "$v" && [ "$v" -ge 1 ] || die "expected a positive integer, got '$v'"
done
[ -z "$latency" ] || [[ $latency =~ ^[0-9]*\.?[0-9]+([eE]-?[0-9]+)?$ ]] || die "--inject-latency takes seconds, got '$latency'"
[ -z "$syn_train" ] || is_uint "$syn_train" || die "--synthetic-train takes a number, got '$syn_train'"
[ -z "$timeout_s" ] || is_uint "$timeout_s" || die "--timeout takes seconds, got '$timeout_s'"
[[ $rate =~ ^[0-9.]+([kmg]?(bit|bps))$ ]] || die "--rate looks wrong: '$rate' (e.g. 1gbit, 100mbit)"
# Only private ranges: the addresses exist inside our own namespaces and nowhere else.
if [[ $subnet =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  a=${BASH_REMATCH[1]}; b=${BASH_REMATCH[2]}; c=${BASH_REMATCH[3]}
  [ "$c" -le 255 ] && { [ "$a" -eq 10 ] && [ "$b" -le 255 ] || { [ "$a" -eq 172 ] && [ "$b" -ge 16 ] && [ "$b" -le 31 ]; } \
    || { [ "$a" -eq 192 ] && [ "$b" -eq 168 ]; }; } || die "--subnet must be a private /24 (10.x.y, 172.16-31.y, 192.168.y), got '$subnet'"
else
  die "--subnet takes the first three octets of a /24, e.g. 10.231.7"
fi
cidr="$subnet.0/24"

if [ "$quick" -eq 1 ]; then
  : "${dataset:=synthetic}"; : "${syn_train:=8192}"; : "${timeout_s:=180}"
  [ "$hs_given" -eq 1 ] || hs_list="1 4 16"
fi
: "${dataset:=fashion-mnist}"; : "${timeout_s:=900}"
mode=netns; [ "$loopback" -eq 1 ] && mode=loopback
max_ranks=0; for k in $ranks_list; do [ "$k" -gt "$max_ranks" ] && max_ranks=$k; done

# ---------------------------------------------------------------- requirements
command -v mpirun >/dev/null || die "mpirun not found: install Open MPI (apt-get install openmpi-bin libopenmpi-dev)"
command -v python3 >/dev/null || die "python3 not found (used to read summary.json and print the table)"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
if [ "$loopback" -eq 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "must run as root (creates network namespaces and tc qdiscs); try: sudo $0 ${orig_args[*]:-} (or --loopback)"
  command -v ip >/dev/null || die "'ip' not found: install iproute2"
  command -v tc >/dev/null || die "'tc' not found: install iproute2"
fi
if [ -n "$bench_sizes" ]; then
  : "${bench_binary:=$(dirname "$binary")/localsgd-mpi-check}"
  [ -x "$bench_binary" ] || die "no localsgd-mpi-check binary at $bench_binary: build it with 'cd $repo_dir && swift build -c release --product localsgd-mpi-check' (or pass --bench-binary)"
elif [ "$dry_run" -eq 0 ]; then
  [ -x "$binary" ] || die "no localsgd binary at $binary: build it with 'cd $repo_dir && swift build -c release --product localsgd' (or pass --binary)"
  # (not `ldd | grep -q`: under pipefail grep's early exit can fail the pipeline with SIGPIPE)
  if command -v ldd >/dev/null && [[ $(ldd "$binary" 2>/dev/null || true) != *libmpi.so* ]]; then
    die "$binary has no MPI support (not linked to libmpi): install libopenmpi-dev and rebuild (LOCALSGD_MPI=1 forces the MPI targets)"
  fi
fi
mpi_env=(OMPI_MCA_rmaps_base_oversubscribe=1)
[ "$(id -u)" -eq 0 ] && mpi_env+=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)

# ---------------------------------------------------------------- cleanup of everything we create
tag="lsgd$$"                # namespaces: $tag-sw, $tag-r0 ...; veths: ${tag}r0 / ${tag}s0 (< 16 chars)
created_ns=()               # namespaces to delete
created_links=()            # veths still in the root namespace (deleted with their namespace later)
workdir=""
child=""                    # the running mpirun (timeout) job
cleanup() {
  local rc=$? ns pids i
  trap - EXIT INT TERM HUP
  set +e
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    log "stopping the running job (pid $child)"
    kill -TERM "$child" 2>/dev/null   # timeout passes it on to mpirun, which stops the ranks
    for ((i = 0; i < 20; i++)); do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$child" 2>/dev/null
  fi
  for ns in "${created_ns[@]}"; do
    # Processes left in our namespaces (daemonized orted, ranks of a killed run): ours, by pid.
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then kill -TERM $pids 2>/dev/null; sleep 1; pids=$(ip netns pids "$ns" 2>/dev/null); [ -n "$pids" ] && kill -KILL $pids 2>/dev/null; fi
  done
  for l in "${created_links[@]}"; do ip link del "$l" 2>/dev/null; done
  for ns in "${created_ns[@]}"; do ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"; done
  [ -n "$workdir" ] && rm -rf "$workdir"
  [ ${#created_ns[@]} -gt 0 ] && log "removed namespaces ${created_ns[*]} (and their veths, bridge, qdiscs)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
workdir=$(mktemp -d "${TMPDIR:-/tmp}/throttled-mpi.XXXXXX")

rank_ns() { echo "$tag-r$1"; }
rank_ip() { echo "$subnet.$(( $1 + 1 ))"; }

setup_network() {
  local n=$1 i ns sw="$tag-sw"
  ip netns add "$sw" || die "cannot create network namespaces (ip netns add failed)"; created_ns+=("$sw")
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge || die "cannot create a bridge (kernel without bridge support?)"
  ip -n "$sw" link set br0 up
  for ((i = 0; i < n; i++)); do
    ns=$(rank_ns $i)
    ip netns add "$ns"; created_ns+=("$ns")
    ip link add "${tag}r$i" type veth peer name "${tag}s$i" || die "cannot create veth pairs"
    created_links+=("${tag}r$i")
    ip link set "${tag}s$i" netns "$sw"
    ip link set "${tag}r$i" netns "$ns"
    unset 'created_links[-1]'   # now owned by the namespace
    ip -n "$sw" link set "${tag}s$i" master br0 up
    ip -n "$ns" link set "${tag}r$i" name eth0
    ip -n "$ns" addr add "$(rank_ip $i)/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    if [ "$limit" -eq 1 ]; then
      # Egress of the rank's end (rank -> switch) and of the switch port (switch -> rank).
      ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 100ms \
        || die "tc tbf failed (kernel without sch_tbf?)"
      ip netns exec "$sw" tc qdisc add dev "${tag}s$i" root tbf rate "$rate" burst "$burst" latency 100ms
    fi
  done
  # The rsh agent mpirun uses to start its daemon "on" another host: host = a rank's IP.
  agent="$workdir/netns-agent"
  {
    echo '#!/bin/sh'
    echo '# plm_rsh_agent for mpirun: "agent [options] HOST COMMAND..." runs COMMAND in HOST'"'"'s namespace.'
    echo 'while [ $# -gt 0 ]; do case "$1" in -*) shift;; *) break;; esac; done'
    echo 'host=$1; shift'
    echo 'case "$host" in'
    for ((i = 0; i < n; i++)); do echo "  $(rank_ip $i)) ns=$(rank_ns $i);;"; done
    echo '  *) echo "netns-agent: unknown host $host" >&2; exit 255;;'
    echo 'esac'
    echo 'exec ip netns exec "$ns" sh -c "$*"'
  } > "$agent"
  chmod +x "$agent"
  local what="no rate limit"; [ "$limit" -eq 1 ] && what="tbf $rate each way"
  log "network: bridge in $sw, $n ranks at $(rank_ip 0)..$(rank_ip $((n - 1))) ($what)"
}

# mpirun command (array) for K ranks.
mpirun_cmd() {
  local k=$1 i hosts=""
  if [ "$loopback" -eq 1 ]; then
    cmd=(env "${mpi_env[@]}" timeout -k 10 "$timeout_s" mpirun -np "$k" --bind-to none)
    return
  fi
  for ((i = 0; i < k; i++)); do hosts+="${hosts:+,}$(rank_ip $i)"; done
  # mpirun runs in rank 0's namespace (so rank 0's host is local) and reaches the others through
  # the agent; TCP only, on our subnet; PMIx must accept the daemons' connections over TCP.
  # --bind-to none: every namespace "is" a 2-core node, so default binding would pin all ranks
  # to the same core. rtc_hwloc_vmhole none: the daemons share /tmp and the hostname, so they
  # would all write their topology to one session file, and one of them crashes now and then.
  cmd=(ip netns exec "$(rank_ns 0)" env "${mpi_env[@]}"
       PMIX_MCA_ptl_tcp_remote_connections=1 PMIX_MCA_ptl_tcp_if_include="$cidr"
       timeout -k 10 "$timeout_s"
       mpirun -np "$k" --host "$hosts" --bind-to none
       --mca plm_rsh_agent "$agent" --mca plm_rsh_no_tree_spawn 1 --mca rtc_hwloc_vmhole none
       --mca btl tcp,self --mca btl_tcp_if_include "$cidr" --mca oob_tcp_if_include "$cidr")
}

# Bytes sent by all ranks' eth0 (egress counter of the rank-side qdisc / link).
wire_bytes() {
  local k=$1 i total=0 b
  [ "$loopback" -eq 1 ] && { echo ""; return; }
  for ((i = 0; i < k; i++)); do
    b=$(ip -n "$(rank_ns $i)" -s -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["bytes"])')
    total=$((total + b))
  done
  echo "$total"
}

dry_run_check() {
  local k=$max_ranks out
  mpirun_cmd "$k"
  log "checking that $k MPI ranks start in $k namespaces"
  out=$("${cmd[@]}" sh -c 'echo "rank $OMPI_COMM_WORLD_RANK: $(ip -o -4 addr show eth0 | awk "{print \$4}")"' 2>&1) \
    || { echo "$out" >&2; die "mpirun across namespaces failed"; }
  echo "$out" | sort
  if [ "$k" -ge 2 ]; then
    log "sending 50 MB from rank 1 to rank 0 over the emulated link"
    local py='import socket,sys,time
if sys.argv[1]=="s":
    s=socket.socket(); s.bind((sys.argv[2],5999)); s.listen(1); c,_=s.accept(); n=0
    while True:
        b=c.recv(1<<20)
        if not b: break
        n+=len(b)
    c.sendall(b"k")
else:
    for _ in range(50):
        try: c=socket.create_connection((sys.argv[2],5999)); break
        except OSError: time.sleep(0.1)
    t=time.time(); buf=b"x"*(1<<20)
    for _ in range(50): c.sendall(buf)
    c.shutdown(socket.SHUT_WR); c.recv(1); dt=time.time()-t
    print("50 MiB in %.2f s = %.0f Mbit/s" % (dt, 50*8*1.048576/dt))'
    ip netns exec "$(rank_ns 0)" timeout 60 python3 -c "$py" s "$(rank_ip 0)" &
    local server=$!
    ip netns exec "$(rank_ns 1)" timeout 60 python3 -c "$py" c "$(rank_ip 0)"
    wait "$server"
  fi
}


# All-reduce time against message size on the same links: one mpirun per rank count and size.
run_bench() {
  local k b out line
  stamp=$(date +%Y%m%d-%H%M%S)
  [ -n "$csv" ] || csv="$PWD/throttled-mpi-bench-$mode-$stamp.csv"
  echo "mode,rate,ranks,bytes,repeats,raw_median_ms,sum_median_ms,raw_fastest_ms,sum_fastest_ms,load1" > "$csv"
  log "bench: sizes [$bench_sizes], ranks [$ranks_list], $bench_repeats repeats, rate ${limit_desc:-n/a}; load: $(uptime)"
  for k in $ranks_list; do
    for b in $bench_sizes; do
      mpirun_cmd "$k"
      cmd+=("$bench_binary" --bench "$b" --repeats "$bench_repeats")
      load1=$(cut -d' ' -f1 /proc/loadavg)
      out=$("${cmd[@]}" 2>&1) || { echo "$out" | tail -n 15 >&2; die "bench of $b bytes on $k ranks failed"; }
      line=$(python3 - "$mode" "${limit_desc}" "$k" "$b" "$bench_repeats" "$load1" "$out" <<'EOF2'
import re, sys
mode, rate, k, b, reps, load1, out = sys.argv[1:]
med = dict(re.findall(r"(\S+)=([0-9.]+)", re.search(r"median ms:(.*)", out).group(1)))
fast = dict(re.findall(r"(\S+)=([0-9.]+)", re.search(r"fastest ms:(.*)", out).group(1)))
print(",".join([mode, rate, k, b, reps, med["raw"], med["sum"], fast["raw"], fast["sum"], load1]))
EOF2
)
      echo "$line" >> "$csv"
      log "ranks=$k bytes=$b: $(echo "$line" | cut -d, -f6-9 | tr , ' ') (ms: raw and sum median, raw and sum fastest), load $load1"
    done
  done
  log "CSV: $csv"; log "load: $(uptime)"
}

# ---------------------------------------------------------------- runs
[ "$loopback" -eq 0 ] && setup_network "$max_ranks"
if [ "$dry_run" -eq 1 ]; then
  [ "$loopback" -eq 1 ] && die "--dry-run checks the namespaces; it has nothing to do with --loopback"
  dry_run_check; log "dry run done"; exit 0
fi
limit_desc=$rate; [ "$limit" -eq 0 ] && limit_desc=none; [ "$loopback" -eq 1 ] && limit_desc=""
if [ -n "$bench_sizes" ]; then run_bench; exit 0; fi

stamp=$(date +%Y%m%d-%H%M%S)
[ -n "$csv" ] || csv="$PWD/throttled-mpi-$mode-$stamp.csv"
rows="$workdir/rows.jsonl"; : > "$rows"
start=$(date +%s); skipped=(); failed=()
data_args=(--dataset "$dataset"); [ -n "$syn_train" ] && data_args+=(--synthetic-train "$syn_train")
[ "$dataset" = synthetic ] && data_args+=(--synthetic-test 512)
lat_args=(); [ -n "$latency" ] && lat_args=(--inject-latency "$latency")
log "mode $mode, rate ${limit_desc:-n/a}, ranks [$ranks_list], H [$hs_list], $dataset, $model, $epochs epoch(s), inject-latency ${latency:-0}"
log "load: $(uptime)"

configs=()
for k in $ranks_list; do
  [ "$minibatch" -eq 1 ] && configs+=("$k minibatch 1")
  for h in $hs_list; do configs+=("$k local $h"); done
done
n_runs=$(( ${#configs[@]} * repeats )); i_run=0
# Repeats outermost: every configuration once, then again, so that load drift hits all alike.
for ((rep = 1; rep <= repeats; rep++)); do
  for cfg in "${configs[@]}"; do
    read -r k alg h <<<"$cfg"
    i_run=$((i_run + 1))
    if [ $(( $(date +%s) - start )) -ge $((budget_min * 60)) ]; then skipped+=("$alg H=$h ranks=$k"); continue; fi
    run="$workdir/runs/$mode-k$k-$alg-h$h-r$rep"; mkdir -p "$(dirname "$run")"
    mpirun_cmd "$k"
    cmd+=("$binary" train --backend mpi --workers $((k * wpr)) --algorithm "$alg" --local-steps "$h"
          --model "$model" --epochs "$epochs" --threads "$threads" "${data_args[@]}" "${lat_args[@]}"
          --quiet --out "$run" "${extra[@]}")
    load1=$(cut -d' ' -f1 /proc/loadavg)
    wb0=$(wire_bytes "$k"); t0=$(date +%s.%N)
    printf 'throttled-mpi: [%d/%d] %-9s H=%-2s ranks=%s ... ' "$i_run" "$n_runs" "$alg" "$h" "$k" >&2
    # In the background so that a signal reaches the trap at once (bash runs traps only after a
    # foreground command ends); cleanup stops it.
    "${cmd[@]}" > "$workdir/log" 2>&1 &
    child=$!; rc=0; wait "$child" || rc=$?; child=""
    t1=$(date +%s.%N); wb1=$(wire_bytes "$k")
    if [ $rc -ne 0 ] || [ ! -f "$run/summary.json" ]; then
      echo "FAILED (exit $rc)" >&2; tail -n 15 "$workdir/log" >&2
      [ $rc -eq 124 ] && log "the run hit --timeout $timeout_s s"
      log "failed command: ${cmd[*]}"
      failed+=("$alg H=$h ranks=$k")
      if [ -n "$keep_runs" ]; then mkdir -p "$keep_runs/$(basename "$run")"; cp "$workdir/log" "$keep_runs/$(basename "$run")/mpirun.log"; fi
      continue
    fi
    mv "$workdir/log" "$run/mpirun.log"
    wire=""; [ -n "$wb0" ] && wire=$((wb1 - wb0))
    python3 - "$run/summary.json" "$mode" "${limit_desc}" "${latency:-0}" "$k" "$alg" "$h" "$rep" \
        "$(python3 -c "print(round($t1 - $t0, 2))")" "$wire" "$load1" "$dataset" >> "$rows" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
mode, rate, lat, k, alg, h, rep, wall, wire, load1, dataset = sys.argv[2:]
t = s["time"]; epochs = max(1, s["epochs"])
print(json.dumps({
    "mode": mode, "rate": rate, "inject_latency": float(lat), "ranks": int(k), "workers": s["workers"],
    "algorithm": alg, "H": int(h), "repeat": int(rep), "dataset": dataset, "epochs": s["epochs"], "steps": s["steps"],
    "epoch_seconds": (s["seconds"] - t["evaluation"]) / epochs,           # training only
    "communication_seconds": t["communication"] / epochs,
    "modelled_communication_seconds": s["modelled_communication"] / epochs if s.get("modelled_communication") is not None else None,
    "sync_wait_seconds": s["sync_wait"] / epochs if s.get("sync_wait") is not None else None,
    "compute_seconds": (t["data"] + t["forward"] + t["backward"] + t["optimizer"]) / epochs,
    "evaluation_seconds": t["evaluation"] / epochs, "run_seconds": s["seconds"], "mpirun_wall_seconds": float(wall),
    "syncs": s["syncs"], "bytes_communicated": s["bytes_communicated"],
    "wire_bytes": int(wire) if wire else None, "test_accuracy": s["test_accuracy"], "load1": float(load1)}))
EOF
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); m=r["modelled_communication_seconds"]; w=r["sync_wait_seconds"]
print("%.1f s/epoch (communication %.2f s%s%s), load %.1f" % (r["epoch_seconds"], r["communication_seconds"],
      "" if w is None else ", wait %.2f s" % w, "" if m is None else ", modelled %.2f s" % m, r["load1"]))' "$(tail -n 1 "$rows")" >&2
    if [ -n "$keep_runs" ]; then mkdir -p "$keep_runs"; cp -r "$run" "$keep_runs/"; fi
  done
done

# ---------------------------------------------------------------- table and CSV
[ -s "$rows" ] || die "no run succeeded${failed:+ (failed: ${failed[*]})}"
python3 - "$rows" "$csv" "$runs_csv" <<'EOF'
import csv, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
best = {}
for r in rows:                                   # fastest of the repeats
    key = (r["ranks"], r["algorithm"], r["H"])
    if key not in best or r["epoch_seconds"] < best[key]["epoch_seconds"]:
        best[key] = r
table = sorted(best.values(), key=lambda r: (r["ranks"], r["algorithm"] != "minibatch", r["H"]))
# On a shared machine compute time swings from run to run by more than communication changes
# it, so besides the measured ratio there is one at equal compute: every configuration of a
# rank count charged the smallest compute time seen there, plus its own communication time.
for r in table:
    base = best.get((r["ranks"], "minibatch", 1))
    r["speedup"] = round(base["epoch_seconds"] / r["epoch_seconds"], 3) if base else None
    c = min(x["compute_seconds"] for x in table if x["ranks"] == r["ranks"])
    r["speedup_same_compute"] = round((c + base["communication_seconds"]) / (c + r["communication_seconds"]), 3) if base else None
    same = [x for x in rows if (x["ranks"], x["algorithm"], x["H"]) == (r["ranks"], r["algorithm"], r["H"])]
    r["repeats"] = len(same)
    # Communication over all repeats (the fastest epoch's is in communication_seconds).
    comm = [x["communication_seconds"] for x in same]
    r["communication_median"], r["communication_min"], r["communication_max"] = statistics.median(comm), min(comm), max(comm)
    for key in ("modelled_communication_seconds", "sync_wait_seconds"):
        vals = [x[key] for x in same if x.get(key) is not None]
        r[key + "_median"] = statistics.median(vals) if vals else None
cols = ["mode", "rate", "inject_latency", "ranks", "workers", "algorithm", "H", "epoch_seconds",
        "communication_seconds", "communication_median", "communication_min", "communication_max",
        "modelled_communication_seconds_median", "sync_wait_seconds_median", "compute_seconds", "speedup", "speedup_same_compute", "evaluation_seconds", "mpirun_wall_seconds",
        "steps", "syncs", "bytes_communicated", "wire_bytes", "test_accuracy", "load1", "repeats", "dataset", "epochs"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore"); w.writeheader()
    for r in table:
        w.writerow({c: (round(r[c], 3) if isinstance(r[c], float) else r[c]) for c in cols})
if sys.argv[3]:
    run_cols = ["mode", "rate", "inject_latency", "ranks", "workers", "algorithm", "H", "repeat", "epoch_seconds",
                "communication_seconds", "modelled_communication_seconds", "sync_wait_seconds", "compute_seconds",
                "steps", "syncs", "bytes_communicated", "wire_bytes", "load1", "dataset", "epochs"]
    with open(sys.argv[3], "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=run_cols, extrasaction="ignore"); w.writeheader()
        for r in rows:
            w.writerow({c: (round(r[c], 4) if isinstance(r.get(c), float) else r.get(c)) for c in run_cols})
print()
print("%-9s %3s %5s %9s %9s %9s %8s %9s %7s %9s %5s" % ("algorithm", "H", "ranks", "epoch s", "comm s", "compute s",
      "speedup", "same-comp", "syncs", "wire MB", "load"))
for r in table:
    sp = "%.2fx" % r["speedup"] if r["speedup"] else "-"
    sc = "%.2fx" % r["speedup_same_compute"] if r["speedup_same_compute"] else "-"
    wire = "%.1f" % (r["wire_bytes"] / 1e6) if r["wire_bytes"] is not None else "-"
    print("%-9s %3d %5d %9.1f %9.1f %9.1f %8s %9s %7d %9s %5.1f" % (r["algorithm"], r["H"], r["ranks"], r["epoch_seconds"],
          r["communication_seconds"], r["compute_seconds"], sp, sc, r["syncs"], wire, r["load1"]))
print("(epoch s: training time of one epoch, evaluation excluded; speedup: minibatch epoch s / epoch s;")
print(" same-comp: the same ratio with every run charged the smallest compute time of its rank count)")
EOF
echo
log "CSV: $csv"
[ ${#skipped[@]} -eq 0 ] || log "skipped after the --budget of $budget_min min: ${skipped[*]}"
log "load: $(uptime)"
[ ${#failed[@]} -eq 0 ] || die "failed runs (not in the table): ${failed[*]}"
