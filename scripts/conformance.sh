#!/usr/bin/env bash
# Berth's Autobahn conformance run: every case of the Autobahn TestSuite (517, run by kosoku
# from .venv) against the echo sample deployed as ROOT, summarised by conformance/summary.py.
# The descriptor (no greeting, 16 MiB message limits, permessage-deflate on, server pings
# off) is written here; conformance/README.md explains it.
# Prints the summary and one closing line `conformance: N passed, M failed`; exit 0 only when
# the report holds all 517 cases, no case failed (TOOL-ERROR cases, kosoku's own exceptions,
# are listed but do not fail), Berth logged no ERROR or panic and exited 0 on SIGTERM; 2 on a
# setup problem. Usage: scripts/conformance.sh [extra kosoku args, e.g. -i '1.*' -x '9.*'; a
# selection (-i/-x) runs a subset, and then any number of cases is accepted]
# Env: CONFORMANCE_PROFILE  release (default: the compression cases are CPU-bound, and a debug
#        build's DEFLATE is too slow for kosoku's case timeouts) or debug
#      CONFORMANCE_OUT  report dir (default target/conformance/report; index.html is there)
#      CONFORMANCE_TIMEOUT  seconds for the whole kosoku run (default 1800)
#      KOSOKU_P  parallel cases (default 2)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib/listen.sh

berth_pid=""
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-conformance.XXXXXX")
cleanup() {
  if [ -n "$berth_pid" ] && kill -0 "$berth_pid" 2>/dev/null; then kill -KILL "$berth_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
setup_failed() { echo "conformance: setup failed: $*" >&2; exit 2; }

profile=${CONFORMANCE_PROFILE:-release}
case $profile in
  release) build=(--release) ;;
  debug) build=() ;;
  *) setup_failed "CONFORMANCE_PROFILE must be release or debug" ;;
esac
echo "==> build ($profile)"
scripts/stage-apps.sh "${build[@]}" >/dev/null && cargo build "${build[@]}" -p berth || setup_failed "build"
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
berth="$target_dir/$profile/berth"
if [ ! -x .venv/bin/kosoku ]; then
  scripts/install-test-deps.sh || setup_failed "install test dependencies"
fi

# The echo sample as ROOT: kosoku connects to ws://ADDR/ and sends no Origin, so the context
# must accept any; the greeting would break every case, so it is left out.
context="$work/apps/ROOT"
mkdir -p "$context"
cp apps/echo/libecho.so "$context/"
descriptor() { # descriptor EXTRA_ELEMENT
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- scripts/conformance.sh: the echo sample for the Autobahn TestSuite (no greeting). -->
<jeus-web-dd xmlns="http://www.tmaxsoft.com/xml/ns/jeus" version="8.0">
    <websocket>
        <max-incoming-binary-message-buffer-size>16777216</max-incoming-binary-message-buffer-size>
        <max-incoming-text-message-buffer-size>16777216</max-incoming-text-message-buffer-size>
        <max-session-idle-timeout-in-millis>600000</max-session-idle-timeout-in-millis>
        <websocket-executor>
            <min>2</min>
            <max>8</max>
            <queue-size>4096</queue-size>
        </websocket-executor>$1
    </websocket>
</jeus-web-dd>
EOF
}
# permessage-deflate on (12.*, 13.*); server pings off: kosoku ends a case when an
# unrequested ping arrives in the middle of it.
descriptor "
        <permessage-deflate>true</permessage-deflate>
        <ping-interval-in-millis>0</ping-interval-in-millis>" >"$context/jeus-web-dd.xml"
deflate="on"
"$berth" check "$context/jeus-web-dd.xml" >"$work/check.log" 2>&1 ||
  { cat "$work/check.log" >&2; setup_failed "the ROOT descriptor is refused"; }

# The admin listener on an ephemeral port: the default one (9090) may be taken on this machine.
printf '%s\n' '<berth-server xmlns="urn:berth:server:1"><admin><listen>127.0.0.1:0</listen></admin></berth-server>' \
  >"$work/server.xml"
(cd "$work" && exec "$berth" run --conf server.xml --listen 127.0.0.1:0 --apps apps >berth.log 2>&1) &
berth_pid=$!
addr=$(listen_addr "$work/berth.log" "$berth_pid" 'listening addr=')
[ -n "$addr" ] || { cat "$work/berth.log" >&2; setup_failed "berth did not start"; }

out=${CONFORMANCE_OUT:-$target_dir/conformance/report}
rm -rf "$out"
mkdir -p "$out"
args=("$@")
case " $* " in *" -p "* | *" --parallelism "*) ;; *) args+=(-p "${KOSOKU_P:-2}") ;; esac
echo "==> kosoku ws://$addr/ ${args[*]} (permessage-deflate $deflate) -> $out"
start=$(date +%s%N)
# kosoku exits 1 even when only UNIMPLEMENTED cases exist: the report decides, not its status.
timeout -k 10 "${CONFORMANCE_TIMEOUT:-1800}" .venv/bin/kosoku "ws://$addr/" "${args[@]}" -o "$out" >"$out/kosoku.log" 2>&1
kosoku_rc=$?
wall=$(( ($(date +%s%N) - start) / 1000000 ))
[ $kosoku_rc -ne 124 ] || echo "kosoku killed after ${CONFORMANCE_TIMEOUT:-1800} s" >&2

# Berth itself must have stayed clean: no ERROR or panic logged, a graceful exit 0 on SIGTERM.
berth_failures=()
kill -TERM "$berth_pid"
stopped=1
for _ in $(seq 150); do kill -0 "$berth_pid" 2>/dev/null || { stopped=0; break; }; sleep 0.1; done
if [ $stopped -eq 0 ]; then
  wait "$berth_pid" 2>/dev/null
  berth_rc=$?
  [ "$berth_rc" -eq 0 ] || berth_failures+=("berth exited with status $berth_rc after SIGTERM")
else
  berth_failures+=("berth was still running 15 s after SIGTERM")
fi
problems=$(grep -E ' ERROR |panicked' "$work/berth.log")
if [ -n "$problems" ]; then
  printf '%s\n' "$problems" | head -20 | sed 's/^/berth: /'
  berth_failures+=("berth logged $(printf '%s\n' "$problems" | wc -l) ERROR or panicked line(s)")
fi
cp "$work/berth.log" "$out/berth.log"

if [ ! -f "$out/index.json" ]; then
  tail -20 "$out/kosoku.log" >&2
  setup_failed "kosoku wrote no report (exit $kosoku_rc)"
fi
# Every case unless the arguments select some.
cases=517
for arg in "$@"; do
  case $arg in -i | -x | --include | --exclude | -i?* | -x?* | --include=* | --exclude=*) cases=any ;; esac
done
summary_args=(--cases "$cases")
for failure in "${berth_failures[@]}"; do summary_args+=(--failure "$failure"); done
echo "==> summary (kosoku exit $kosoku_rc; reports in $out)"
python3 conformance/summary.py "$out" --wall "$(printf '%d.%03d' $((wall / 1000)) $((wall % 1000)))" \
  --json "$out/summary.json" "${summary_args[@]}"
