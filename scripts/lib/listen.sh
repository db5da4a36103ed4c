# Sourced by the scripts that start a server in the background and need its address.
#
# listen_addr LOG PID [PREFIX] — waits (up to 20 s) until LOG names the 127.0.0.1 address,
# right after PREFIX (e.g. 'listening addr='), that process PID listens on, and prints it;
# prints nothing if PID exits first or time runs out.
listen_addr() {
  local log=$1 pid=$2 prefix=${3:-} addr=""
  for _ in $(seq 200); do
    addr=$(grep -o "${prefix}127\.0\.0\.1:[0-9]*" "$log" 2>/dev/null | head -n1 || true)
    [ -n "$addr" ] || ! kill -0 "$pid" 2>/dev/null && break
    sleep 0.1
  done
  printf '%s' "${addr#"$prefix"}"
}
