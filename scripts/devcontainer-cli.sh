#!/usr/bin/env bash
# The reference implementation of devcontainer.json (`@devcontainers/cli`,
# from the npm registry), which the fidelity test compares the server's
# reading of configurations against. Pinned, cached outside the work tree.
#
#   scripts/devcontainer-cli.sh     # ensure it is installed; prints its path
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/env.sh"

VERSION=0.89.0
DIR=/var/cache/aicockpit/devcontainers-cli-$VERSION
BIN="$DIR/node_modules/.bin/devcontainer"
command -v npm >/dev/null || apt_install nodejs npm
if [ ! -x "$BIN" ] || ! "$BIN" --version >/dev/null 2>&1; then
  echo "devcontainer-cli: installing @devcontainers/cli@$VERSION" >&2
  rm -rf "$DIR"
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "@devcontainers/cli@$VERSION" >&2
fi
echo "$BIN"
