#!/usr/bin/env bash
# Installs schemathesis (the OpenAPI fuzzer, from the package index) into a
# venv cached outside the work tree and prints the path of its `st` command.
# Idempotent: a second run only checks the version.
set -euo pipefail
VERSION=4.32.5
VENV=/var/cache/aicockpit/schemathesis-venv
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then
  echo "schemathesis: installing $VERSION" >&2
  command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >&2; }
  python3 -m venv "$VENV" 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv >&2; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install --quiet --no-cache-dir "schemathesis==$VERSION" >&2
fi
echo "$VENV/bin/st"
