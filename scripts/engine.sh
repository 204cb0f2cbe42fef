#!/usr/bin/env bash
# Starts (or finds) the Docker Engine that AiCockpit and its tests use.
# Idempotent: when the socket already answers /_ping this returns at once.
# Prints nothing on success except progress on stderr; callers source env.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/env.sh"

ping_engine() {
  curl -fsS --max-time 2 --unix-socket "$AICOCKPIT_DOCKER_SOCK" http://engine/_ping >/dev/null 2>&1
}

if ping_engine; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "engine: installing docker.io from Debian's archive" >&2
  apt_install docker.io
fi

echo "engine: starting dockerd on $AICOCKPIT_DOCKER_SOCK" >&2
mkdir -p "$AICOCKPIT_STATE_DIR"
# A stale pidfile from a killed daemon makes dockerd refuse to start.
if [ -f /run/aicockpit-docker.pid ] && ! kill -0 "$(cat /run/aicockpit-docker.pid)" 2>/dev/null; then
  rm -f /run/aicockpit-docker.pid
fi
setsid dockerd --host "unix://$AICOCKPIT_DOCKER_SOCK" \
  --data-root /var/lib/aicockpit-docker --pidfile /run/aicockpit-docker.pid \
  --exec-root /run/aicockpit-docker-exec \
  >"$AICOCKPIT_STATE_DIR/dockerd.log" 2>&1 </dev/null &

for _ in $(seq 1 120); do
  if ping_engine; then
    echo "engine: ready" >&2
    exit 0
  fi
  sleep 0.5
done
echo "engine: dockerd did not answer within 60 s; see $AICOCKPIT_STATE_DIR/dockerd.log" >&2
tail -n 30 "$AICOCKPIT_STATE_DIR/dockerd.log" >&2 || true
exit 1
