#!/usr/bin/env bash
# Berth's benchmarks in one command: builds release, stages the samples, and runs every
# scenario against Berth and against the raw tokio-tungstenite reference (tt-echo), one
# server at a time on its own CPU, the load tool on another, repetitions interleaved.
# Prints the comparison table (medians, Berth/reference ratio per repetition) and the
# verdicts against the benchmark targets. Not a test and not part of CI, except `--smoke`.
# See bench/README.md.
#
# Usage: scripts/bench.sh [options]
#   --scenarios LIST        comma list of echo,latency,handshake,idle,broadcast (default: all)
#   --reps N                repetitions per scenario and server (default 3)
#   --duration S            measured seconds of echo, latency and handshake runs (default 10)
#   --warmup S              unmeasured seconds before each of those (default 2)
#   --rate R                latency scenario rate in messages/s (default 10000)
#   --idle-connections N    idle scenario connections (default 10000)
#   --broadcast-sessions N  broadcast scenario chat sessions (default 10000)
#   --server-cpu N          CPU the server is pinned to (default 0)
#   --load-cpu N            CPU the load tool is pinned to (default 1)
#   --out DIR               where records and logs go (default target/bench/<date-time>)
#   --no-build              use the binaries already built
#   --baseline DIR          also run the echo scenarios against an earlier Berth, as the server
#                           `berth-base`: DIR is a checkout of it with `target/release/berth`
#                           and `apps/echo/libecho.so` built (`scripts/stage-apps.sh --release`
#                           and `cargo build --release -p berth` there), so a change's cost is
#                           measured against the code before it in one run
#   --smoke                 every scenario once, about a second each, tiny counts; fails on
#                           any error, lost or mismatched message; the targets table says
#                           `n/a (smoke)`, since at these sizes no target means anything
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib/listen.sh

scenarios=echo,latency,handshake,idle,broadcast
reps=3
duration=10
warmup=2
rate=10000
idle_connections=10000
broadcast_sessions=10000
broadcast_rounds=5
handshake_concurrency=32
server_cpu=0
load_cpu=1
out=
build=1
smoke=0
baseline=
sources=127.0.0.1..127.0.0.16

while [ $# -gt 0 ]; do
  case "$1" in
    --scenarios) scenarios=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --idle-connections) idle_connections=$2; shift 2 ;;
    --broadcast-sessions) broadcast_sessions=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --load-cpu) load_cpu=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --smoke) smoke=1; shift ;;
    --baseline) baseline=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

mode=full
if [ "$smoke" = 1 ]; then
  reps=1 duration=1 warmup=0.2 rate=1000 idle_connections=50 broadcast_sessions=20
  broadcast_rounds=2 handshake_concurrency=4 mode=smoke
fi
if [ "$(nproc)" -lt 2 ]; then load_cpu=$server_cpu; fi
if [ -z "$out" ]; then out="target/bench/$(date +%Y%m%d-%H%M%S)"; fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
records="$out/records.tsv"
failures=0
: > "$records"

# As many open files as allowed: 10k connections need 10k descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "$build" = 1 ]; then
  cargo build --release -p berth -p berth-bench
  scripts/stage-apps.sh --release
fi
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release"
load="$bin/berth-load"

# A server home with two apps directories: the echo sample as ROOT (no greeting: the load
# tool expects only echoes) and the chat sample, each with 16 MiB limits and a pool sized
# for a 2-CPU machine.
home=$(mktemp -d /tmp/berth-bench.XXXXXX)
server_pid=
cleanup() {
  stop_server
  rm -rf "$home"
}
trap cleanup EXIT
mkdir -p "$home/conf" "$home/apps-echo/ROOT" "$home/apps-chat/chat"
cat > "$home/conf/server.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<berth-server xmlns="urn:berth:server:1" version="1">
    <listen>127.0.0.1:0</listen>
    <apps-dir>apps-echo</apps-dir>
    <admin>
        <enabled>false</enabled>
    </admin>
    <shutdown-grace-in-millis>2000</shutdown-grace-in-millis>
</berth-server>
EOF
descriptor() {
  cat <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<jeus-web-dd xmlns="http://www.tmaxsoft.com/xml/ns/jeus" version="8.0">
    <websocket>
        <max-incoming-binary-message-buffer-size>16777216</max-incoming-binary-message-buffer-size>
        <max-incoming-text-message-buffer-size>16777216</max-incoming-text-message-buffer-size>
        <websocket-executor>
            <min>1</min>
            <max>2</max>
            <queue-size>4096</queue-size>
        </websocket-executor>
    </websocket>
</jeus-web-dd>
EOF
}
cp apps/echo/libecho.so "$home/apps-echo/ROOT/"
descriptor > "$home/apps-echo/ROOT/jeus-web-dd.xml"
echo_servers="berth tt-echo"
if [ -n "$baseline" ]; then
  for built in target/release/berth apps/echo/libecho.so; do
    [ -f "$baseline/$built" ] || { echo "bench.sh: --baseline: no $baseline/$built (build it there first)" >&2; exit 2; }
  done
  mkdir -p "$home/apps-base/ROOT"
  cp "$baseline/apps/echo/libecho.so" "$home/apps-base/ROOT/"
  descriptor > "$home/apps-base/ROOT/jeus-web-dd.xml"
  echo_servers="berth berth-base tt-echo"
fi
cp apps/chat/libchat.so "$home/apps-chat/chat/"
descriptor > "$home/apps-chat/chat/jeus-web-dd.xml"
"$bin/berth" check "$home/apps-echo" "$home/apps-chat" "$home/conf/server.xml" > /dev/null

# start_server NAME [APPS]: starts it pinned to the server CPU; sets server_pid and server_url.
start_server() {
  local name=$1 apps=${2:-apps-echo} log="$out/server-$1.log"
  case "$name" in
    berth) BERTH_LOG=warn,berth::container=info taskset -c "$server_cpu" "$bin/berth" run \
             --conf "$home/conf/server.xml" --apps "$home/$apps" > "$log" 2>&1 & ;;
    berth-base) BERTH_LOG=warn,berth::container=info taskset -c "$server_cpu" \
             "$baseline/target/release/berth" run --conf "$home/conf/server.xml" \
             --apps "$home/apps-base" > "$log" 2>&1 & ;;
    tt-echo) taskset -c "$server_cpu" "$bin/tt-echo" 127.0.0.1:0 > "$log" 2>&1 & ;;
    tt-echo-4k) taskset -c "$server_cpu" "$bin/tt-echo" 127.0.0.1:0 --buffer-size 4096 > "$log" 2>&1 & ;;
    *) echo "bench.sh: unknown server $name" >&2; exit 2 ;;
  esac
  server_pid=$!
  local addr
  addr=$(listen_addr "$log" "$server_pid")
  if [ -z "$addr" ]; then
    echo "bench.sh: $name did not start; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  server_url="ws://$addr"
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# run_load SCENARIO SERVER REP SUBCOMMAND ARGS...: one pinned load-tool run, recorded.
run_load() {
  local scenario=$1 server=$2 rep=$3
  shift 3
  echo "== $scenario  server=$server  rep=$rep  load=$(cut -d' ' -f1-3 /proc/loadavg)"
  # `mode=smoke` makes `berth-load summary` give no verdict on the targets.
  if ! taskset -c "$load_cpu" "$load" --record "$records" --tag "scenario=$scenario" \
    --tag "server=$server" --tag "rep=$rep" --tag "load1=$(cut -d' ' -f1 /proc/loadavg)" \
    --tag "mode=$mode" "$@" \
    2>&1 | sed 's/^/   /'; then
    # One failed run (a server that died, say) must not throw away the others.
    failures=$((failures + 1))
    echo "   (run failed; server alive: $(kill -0 "$server_pid" 2>/dev/null && echo yes || echo no))"
  fi
}

# Berth first on odd repetitions, the reference first on even ones, so drift in the
# machine's load does not always favour the same server.
order() {
  local rep=$1
  shift
  if [ $((rep % 2)) = 1 ]; then echo "$@"; else echo "$@" | tr ' ' '\n' | tac | tr '\n' ' '; fi
}

# interleaved SCENARIO "SERVERS" SUBCOMMAND ARGS...: every repetition starts each server in
# turn (in `order`) and runs the load tool's SUBCOMMAND against it, with the server's URL
# and pid added to ARGS.
interleaved() {
  local scenario=$1 servers=$2 subcommand=$3
  shift 3
  for rep in $(seq "$reps"); do
    # shellcheck disable=SC2086 # the server list is split on purpose
    for server in $(order "$rep" $servers); do
      start_server "$server"
      run_load "$scenario" "$server" "$rep" "$subcommand" --url "$server_url/" \
        --server-pid "$server_pid" "$@"
      stop_server
    done
  done
}

echo_scenario() {
  local payload=$1 name=$2
  interleaved "$name" "$echo_servers" echo --connections 100 --in-flight 1 \
    --payload "$payload" --binary --warmup "$warmup" --duration "$duration"
}

latency_scenario() {
  interleaved "latency-${rate}/s" "berth tt-echo" latency --rate "$rate" --connections 10 \
    --payload 20 --warmup 1 --duration "$duration"
}

handshake_scenario() {
  interleaved handshake "berth tt-echo" handshake --concurrency "$handshake_concurrency" \
    --warmup 1 --duration "$duration" --sources "$sources"
}

idle_scenario() {
  local settle=2
  [ "$smoke" = 1 ] && settle=0.2
  interleaved "idle-$idle_connections" "berth tt-echo tt-echo-4k" idle \
    --connections "$idle_connections" --sources "$sources" --settle "$settle"
}

broadcast_scenario() {
  local quiet=1000
  [ "$smoke" = 1 ] && quiet=200
  for rep in $(seq "$reps"); do
    start_server berth apps-chat
    run_load "broadcast-$broadcast_sessions" berth "$rep" broadcast \
      --url "$server_url/chat/rooms/bench" --sessions "$broadcast_sessions" \
      --rounds "$broadcast_rounds" --size 100 --quiet-ms "$quiet" --sources "$sources"
    stop_server
  done
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
  "kernel $(uname -r), open files $(ulimit -n)"
echo "pinning: server on CPU $server_cpu, load tool on CPU $load_cpu; records: $records"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for scenario in ${scenarios//,/ }; do
  case "$scenario" in
    echo) echo_scenario 20 echo-20B; echo_scenario 1024 echo-1KiB; echo_scenario 16384 echo-16KiB ;;
    latency) latency_scenario ;;
    handshake) handshake_scenario ;;
    idle) idle_scenario ;;
    broadcast) broadcast_scenario ;;
    *) echo "bench.sh: unknown scenario $scenario" >&2; exit 2 ;;
  esac
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
{
  if [ "$smoke" = 1 ]; then
    echo "smoke run: sizes too small for the targets to mean anything (holds: n/a (smoke));"
    echo "it checks only that every scenario runs without errors, lost or mismatched messages."
    echo
  fi
  "$load" summary "$records"
} | tee "$out/summary.txt"

if [ "$failures" -gt 0 ]; then
  echo "bench.sh: $failures run(s) failed; see above" >&2
  exit 1
fi
if [ "$smoke" = 1 ]; then
  if grep -Eq $'\t(errors|lost|mismatches)=[1-9]' "$records"; then
    echo "bench.sh --smoke: a run reported errors, lost or mismatched messages:" >&2
    grep -E $'\t(errors|lost|mismatches)=[1-9]' "$records" >&2
    exit 1
  fi
  echo "bench.sh --smoke: every scenario ran cleanly"
fi
