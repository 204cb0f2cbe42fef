#!/usr/bin/env bash
# Fuzzes the whole HTTP API from its own OpenAPI document with schemathesis:
# the real server (fresh data dir, ephemeral port, the real engine) and a
# real admin token. Fails on any server error (5xx) and on any response
# that does not match the document (status, content type, body schema).
# Usage: scripts/api-fuzz.sh [AICOCKPIT_BINARY]   (default: the debug build)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/env.sh"
BIN="${1:-$CARGO_TARGET_DIR/debug/aicockpit}"
ST="$(bash "$HERE/schemathesis.sh")"
WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
export AICOCKPIT_SERVER__DATA_DIR="$WORK/data" AICOCKPIT_LOG=warn
PASSWORD="fuzz-password-$RANDOM$RANDOM"
echo "$PASSWORD" | "$BIN" users add fuzzer --role admin --password-stdin >/dev/null
"$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
  # Workspaces the fuzzer managed to create, with their data.
  if [ -n "${CLEANUP_TOKEN:-}" ]; then
    T="$CLEANUP_TOKEN"
    curl -sf "$BASE/api/v1/workspaces" -H "Authorization: Bearer $T" |
      python3 -c 'import json,sys; print("\n".join(w["id"] for w in json.load(sys.stdin)))' |
      while read -r id; do
        [ -n "$id" ] && curl -sf -X DELETE "$BASE/api/v1/workspaces/$id?purge=true" -H "Authorization: Bearer $T" >/dev/null || true
      done
    # Then the snapshots (their images and data) and kept data it made.
    curl -sf "$BASE/api/v1/snapshots" -H "Authorization: Bearer $T" |
      python3 -c 'import json,sys; print("\n".join(s["id"] for s in json.load(sys.stdin)))' |
      while read -r id; do
        [ -n "$id" ] && curl -sf -X DELETE "$BASE/api/v1/snapshots/$id" -H "Authorization: Bearer $T" >/dev/null || true
      done
    curl -sf "$BASE/api/v1/kept-data" -H "Authorization: Bearer $T" |
      python3 -c 'import json,sys; print("\n".join(k["workspace"] for k in json.load(sys.stdin)))' |
      while read -r id; do
        [ -n "$id" ] && curl -sf -X DELETE "$BASE/api/v1/kept-data/$id" -H "Authorization: Bearer $T" >/dev/null || true
      done
  fi
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
login() {
  curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"fuzzer\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
# Tokens are made up front: the fuzzer's own failed logins soon make the
# login limiter slow this address down, as it should.
SESSION="$(login)"
api_token() {
  curl -sf -X POST "$BASE/api/v1/auth/tokens" -H "Authorization: Bearer $SESSION" \
    -H 'content-type: application/json' -d "{\"name\":\"fuzz-$1\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
CLEANUP_TOKEN="$(api_token cleanup)"
MAIN_TOKEN="$(api_token main)"
LOGOUT_TOKEN="$(api_token logout)"
REVOKE_TOKEN="$(api_token revoke)"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# One worker: with two threads, CPython 3.11's ast.parse (which hypothesis
# calls to describe its filters) can fail with "AST constructor recursion
# depth mismatch", a tool error that failed a run with no finding.
run_st() {
  local token="$1"
  shift
  (cd "$WORK" && "$ST" run "$BASE/api/v1/openapi.json" -H "Authorization: Bearer $token" \
    --checks "$CHECKS" --max-examples "${FUZZ_EXAMPLES:-25}" --workers 1 \
    --request-timeout 30 --seed 1 --no-color --suppress-health-check all "$@")
}
status=0
# Logout and token revocation can revoke the very token the run uses (the
# fuzzer learns token ids from GET /auth/tokens), so they run on their own.
run_st "$MAIN_TOKEN" --exclude-operation-id auth_logout --exclude-operation-id auth_revoke_token || status=1
run_st "$LOGOUT_TOKEN" --include-operation-id auth_logout || status=1
run_st "$REVOKE_TOKEN" --include-operation-id auth_revoke_token || status=1
if [ $status -ne 0 ]; then
  echo "api-fuzz: the server's log:" >&2
  tail -50 "$WORK/server.log" >&2
fi
exit $status
