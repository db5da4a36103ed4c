#!/usr/bin/env bash
# Installs the tools the test suite uses, only when they are missing, so a developer's
# second run is instant and a fresh CI machine gets everything.
#   xmllint (libxml2-utils): validates the shipped samples against conf/*.xsd.
#   chromium (Debian's): the headless browser of scripts/clients.sh, driven by playwright-core.
#   .venv/ (Python venv): websockets (clients/python) and kosoku (conformance/), pinned in
#     their requirements.txt files.
#   clients/node/node_modules: `npm ci` from the committed package-lock.json (ws, playwright-core).
# No prebuilt browser or binary is downloaded: every package comes from apt, PyPI or npm.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages (apt).
missing=()
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ps >/dev/null 2>&1 || missing+=(procps)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# Debian's python3 needs python3-venv for `python3 -m venv` (a pyenv or python.org build has it).
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then missing+=(python3-venv); fi
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python packages, pinned; reinstalled only when a pinned version is not the one in .venv.
requirements=(clients/python/requirements.txt conformance/requirements.txt)
python_current() {
  [ -x .venv/bin/python ] || return 1
  .venv/bin/python - "${requirements[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
for path in sys.argv[1:]:
    for line in open(path):
        line = line.split("#")[0].strip()
        if not line:
            continue
        name, _, want = line.partition("==")
        try:
            if version(name.strip()) != want.strip():
                sys.exit(1)
        except PackageNotFoundError:
            sys.exit(1)
PY
}
if ! python_current; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "${requirements[@]/#/-r}"
fi

# Node packages: `npm ci` when node_modules is missing or older than the lock file.
stamp=clients/node/node_modules/.berth-lock
if ! cmp -s clients/node/package-lock.json "$stamp" 2>/dev/null; then
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
  cp clients/node/package-lock.json "$stamp"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "warning: node $(node --version) is older than playwright-core's minimum (20)" >&2
fi
echo "test dependencies present: xmllint $(xmllint --version 2>&1 | head -1 | awk '{print $NF}')," \
  "$(chromium --version 2>/dev/null | head -1)," \
  "python $(.venv/bin/python -c 'import platform; print(platform.python_version())')" \
  "websockets $(.venv/bin/python -c 'from importlib.metadata import version; print(version("websockets"))')" \
  "kosoku $(.venv/bin/python -c 'from importlib.metadata import version; print(version("kosoku"))')," \
  "node $(node --version)"
