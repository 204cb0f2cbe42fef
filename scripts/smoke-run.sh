#!/usr/bin/env bash
# Proves the README's run command gives the whole product: starts
# ./scripts/run on a free port with a throw-away data dir, checks that `/`
# serves the web app (its bundle, not the "not built" page), that the bundle
# itself is served and that /health answers, then stops it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
cd "$ROOT"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
data="$(mktemp -d)"
log="$(mktemp)"
AICOCKPIT_SERVER__DATA_DIR="$data" AICOCKPIT_LOG=warn setsid ./scripts/run --listen "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$log"
}
trap cleanup EXIT
base="http://127.0.0.1:$port"
# The first run builds the release server: allow it time.
for _ in $(seq 1 1800); do
  curl -fsS --max-time 2 "$base/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "smoke-run: ./scripts/run exited" >&2; tail -40 "$log" >&2; exit 1; }
  sleep 1
done
curl -fsS --max-time 5 "$base/health" | grep -q '"ok"' || { echo "smoke-run: /health did not answer" >&2; tail -40 "$log" >&2; exit 1; }
page="$(curl -fsS --max-time 5 "$base/")"
bundle="$(printf '%s' "$page" | grep -o '/assets/index-[A-Za-z0-9_-]*\.js' | head -1 || true)"
if [ -z "$bundle" ]; then
  echo "smoke-run: / does not serve the web app:" >&2
  printf '%s\n' "$page" | head -20 >&2
  exit 1
fi
curl -fsS --max-time 5 -o /dev/null "$base$bundle" || { echo "smoke-run: $bundle is not served" >&2; exit 1; }
echo "smoke-run: ./scripts/run served the web app ($bundle) and /health on port $port"
