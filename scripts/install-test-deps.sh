#!/usr/bin/env bash
# Installs the system tools the test suite uses, only when they are missing, so a developer's
# second run is instant and a fresh CI machine gets everything.
#   xmllint (libxml2-utils): validates the shipped samples against conf/*.xsd.
set -euo pipefail

missing=()
command -v xmllint >/dev/null 2>&1 || missing+=(libxml2-utils)

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
echo "test dependencies present: xmllint $(xmllint --version 2>&1 | head -1 | awk '{print $NF}')"
