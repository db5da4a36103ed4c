#!/usr/bin/env bash
# Real-client end-to-end checks: the sample contexts served by the real `berth` binary, talked
# to by Python `websockets`, Node `ws` and headless Chromium (clients/README.md says what each
# scenario proves). Builds the samples and berth, serves a temporary copy of the staged samples
# on 127.0.0.1:<ephemeral port> with BERTH_LOG=debug, runs every scenario with its own time
# bound, stops berth with SIGTERM and prints one closing line `clients: N passed, M failed`.
# Exit 0 only when every scenario passed, permessage-deflate was negotiated where required,
# berth logged no ERROR or panic and exited 0 on SIGTERM. Needs what scripts/install-test-deps.sh installs
# (run here when missing). Env: BERTH_CLIENTS_KEEP=1 keeps the work dir (berth.log, one log
# per scenario) for a look after the run.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/lib/listen.sh

passed=0
failed=0
failures=()
berth_pid=""
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-clients.XXXXXX")

cleanup() {
  if [ -n "$berth_pid" ] && kill -0 "$berth_pid" 2>/dev/null; then kill -KILL "$berth_pid" 2>/dev/null; fi
  if [ "${BERTH_CLIENTS_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

finish() {
  echo
  [ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
  echo "clients: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

record() { # record NAME OK [detail]
  if [ "$2" = 0 ]; then
    passed=$((passed + 1))
    echo "ok     $1${3:+ ($3)}"
  else
    failed=$((failed + 1))
    failures+=("$1${3:+ ($3)}")
    echo "FAILED $1${3:+ ($3)}"
  fi
}

# scenario NAME SECONDS COMMAND...: runs COMMAND bounded by SECONDS, output indented.
scenario() {
  local name=$1 limit=$2
  shift 2
  local log="$work/$(echo "$name" | tr -c 'A-Za-z0-9.-' _).log" start=$SECONDS rc
  echo "--- $name"
  timeout -k 5 "$limit" "$@" >"$log" 2>&1
  rc=$?
  sed 's/^/    /' "$log"
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || echo "    (killed after ${limit} s)"
  record "$name" $rc "$((SECONDS - start)) s"
  return $rc
}

# close_code USER MARK: the close code Berth reported for USER's presence session, read from the
# log lines after line MARK (where the scenario began): the presence sample's own
# `plugin: USER left: code N` line, cross-checked with the runtime's `session closed
# context=presence session=S code=N` line for that session. The scenario opens exactly two
# presence sessions, the watcher's first and then the page's, so S is the second one opened.
# Prints the code, a disagreement, or nothing while either line is missing.
close_code() {
  tail -n +"$(($2 + 1))" "$work/berth.log" | awk -v user="$1" '
    /session opened context=presence / && ++opened == 2 {
      match($0, /session=[0-9]+/); sid = substr($0, RSTART + 8, RLENGTH - 8)
    }
    index($0, "plugin: " user " left: code ") {
      s = $0; sub(/.* left: code /, "", s); split(s, f, " "); app = f[1]
    }
    sid != "" && index($0, "session closed context=presence session=" sid " ") {
      match($0, /code=[0-9]+/); runtime = substr($0, RSTART + 5, RLENGTH - 5)
    }
    END {
      if (app != "" && runtime != "") print (app == runtime ? app : "app " app ", runtime " runtime)
    }'
}

# expect_close NAME USER MARK CODE: the log must show USER's session ended with CODE (within 5 s).
expect_close() {
  local got="" i
  for i in $(seq 50); do
    got=$(close_code "$2" "$3")
    [ -n "$got" ] && break
    sleep 0.1
  done
  tail -n +"$(($3 + 1))" "$work/berth.log" | grep -E "plugin: $2 left: code|session (opened|closed) context=presence" |
    sed 's/^/    berth: /'
  if [ "$got" = "$4" ]; then record "$1" 0 "on_close code $got"; else record "$1" 1 "on_close code ${got:-not logged}, expected $4"; fi
}

echo "==> build"
if ! scripts/stage-apps.sh || ! cargo build -p berth; then
  record "build berth and the samples" 1
  finish
fi
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
berth="$target_dir/debug/berth"

if [ ! -x .venv/bin/python ] || [ ! -d clients/node/node_modules ] || ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing test dependencies"
  scripts/install-test-deps.sh || { record "install test dependencies" 1; finish; }
fi
python=$root/.venv/bin/python

echo "==> start berth"
# Chromium's pages come from browser-check.js's own server, whose origin is not Berth's: the
# served copies of the descriptors list it in <allowed-origins> (the shipped ones stay as they
# are, same-origin only). The port is free when chosen here and bound again by each check.
page_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
page_origin="http://127.0.0.1:$page_port"
mkdir -p "$work/apps"
for app in echo chat presence; do
  mkdir "$work/apps/$app"
  cp "apps/$app/lib$app.so" "$work/apps/$app/"
  sed "s|</websocket>|    <allowed-origins><origin>$page_origin</origin></allowed-origins>\n    </websocket>|" \
    "apps/$app/jeus-web-dd.xml" >"$work/apps/$app/jeus-web-dd.xml"
  grep -q "<origin>$page_origin</origin>" "$work/apps/$app/jeus-web-dd.xml" ||
    { record "$app: descriptor lists the page origin" 1; finish; }
done
# The admin listener on an ephemeral port: the default one (9090) may be taken on this machine.
printf '%s\n' '<berth-server xmlns="urn:berth:server:1"><admin><listen>127.0.0.1:0</listen></admin></berth-server>' \
  >"$work/server.xml"
(cd "$work" && BERTH_LOG=debug exec "$berth" run --conf server.xml --listen 127.0.0.1:0 --apps apps >berth.log 2>&1) &
berth_pid=$!
addr=$(listen_addr "$work/berth.log" "$berth_pid" 'listening addr=')
if [ -z "$addr" ]; then
  sed 's/^/    /' "$work/berth.log"
  record "berth starts and listens" 1
  finish
fi
echo "berth pid $berth_pid listening on $addr (work dir $work), browser pages from $page_origin"
ws="ws://$addr"
greeting="welcome to berth echo"
# permessage-deflate is on unless a descriptor turns it off: the echo sample must accept the
# deflate offer. A berth that refuses the element, or an echo descriptor that turns it off,
# fails here instead of quietly downgrading the scenario to "offered".
deflate=required
compression=(--require-compression)
printf '%s\n' '<jeus-web-dd xmlns="http://www.tmaxsoft.com/xml/ns/jeus" version="8.0">' \
  '<websocket><permessage-deflate>true</permessage-deflate></websocket></jeus-web-dd>' >"$work/deflate-probe.xml"
if ! "$berth" check "$work/deflate-probe.xml" >"$work/deflate-probe.log" 2>&1; then
  sed 's/^/    /' "$work/deflate-probe.log"
  record "berth check accepts <permessage-deflate>true</permessage-deflate>" 1
fi
if grep -q '<permessage-deflate>\s*\(false\|0\)' "$work/apps/echo/jeus-web-dd.xml"; then
  record "the echo sample negotiates permessage-deflate" 1 "its descriptor turns it off"
fi

echo
echo "==> scenarios"
scenario "python websockets echo (deflate $deflate)" 30 \
  "$python" clients/python/echo_check.py "$ws/echo/" --greeting "$greeting" "${compression[@]}"
scenario "python websockets echo (no compression)" 30 \
  "$python" clients/python/echo_check.py "$ws/echo/" --greeting "$greeting" --no-compression
scenario "node ws echo (deflate $deflate)" 30 \
  node clients/node/echo-check.js "$ws/echo/" --greeting "$greeting" "${compression[@]}"
scenario "node ws echo (no compression)" 30 \
  node clients/node/echo-check.js "$ws/echo/" --greeting "$greeting" --no-compression
scenario "chromium echo" 90 \
  node clients/node/browser-check.js echo "$ws/echo/" --greeting "$greeting" --timeout 80000 \
  --page-port "$page_port"
scenario "chromium chat: two pages in one room" 90 \
  node clients/node/browser-check.js chat "$ws/chat/rooms/room-$$" --timeout 80000 \
  --page-port "$page_port"
user="tab-closed-$$"
mark=$(wc -l <"$work/berth.log")
scenario "chromium presence: tab closed, watcher told" 90 \
  node clients/node/browser-check.js presence "$ws/presence/" --user "$user" --end tab \
  --within 20000 --timeout 80000 --page-port "$page_port" &&
  expect_close "presence: closed tab reported as 1001" "$user" "$mark" 1001
user="browser-killed-$$"
mark=$(wc -l <"$work/berth.log")
scenario "chromium presence: every browser process killed, watcher told" 90 \
  node clients/node/browser-check.js presence "$ws/presence/" --user "$user" --end all-kill \
  --within 20000 --timeout 80000 --page-port "$page_port" &&
  expect_close "presence: killed browser reported as 1006" "$user" "$mark" 1006

echo
echo "==> stop berth (SIGTERM)"
# A client still connected when berth stops must get close 1001.
holder_log="$work/shutdown-client.log"
timeout -k 5 30 "$python" clients/python/echo_check.py "$ws/echo/" --greeting "$greeting" \
  --count 1 --timeout 25 --expect-server-close 1001 >"$holder_log" 2>&1 &
holder=$!
for _ in $(seq 100); do
  grep -q 'waiting for the server to close' "$holder_log" 2>/dev/null || ! kill -0 $holder 2>/dev/null && break
  sleep 0.1
done
kill -TERM "$berth_pid"
stopped=1
for _ in $(seq 150); do
  kill -0 "$berth_pid" 2>/dev/null || { stopped=0; break; }
  sleep 0.1
done
wait "$berth_pid" 2>/dev/null
berth_rc=$?
wait $holder
holder_rc=$?
sed 's/^/    /' "$holder_log"
record "python client connected at shutdown gets close 1001" $holder_rc
if [ $stopped -eq 0 ]; then
  record "berth stops on SIGTERM" "$berth_rc" "exit $berth_rc"
else
  record "berth stops on SIGTERM" 1 "still running after 15 s"
fi
problems=$(grep -E ' ERROR |panicked' "$work/berth.log")
if [ -n "$problems" ]; then
  printf '%s\n' "$problems" | sed 's/^/    berth: /'
  record "berth logged no ERROR or panic" 1 "$(printf '%s\n' "$problems" | wc -l) line(s)"
else
  record "berth logged no ERROR or panic" 0
fi
finish
