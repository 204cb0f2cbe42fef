#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite, from Debian's packages:
# its own cluster on 127.0.0.1:55432 with trust auth for the `aicockpit`
# role (loopback only, test data only). Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/env.sh"

PGPORT=55432
PGDATA="$AICOCKPIT_STATE_DIR/postgres"
SOCKDIR=/run/aicockpit-pg

ready() { pg_isready -q -h 127.0.0.1 -p $PGPORT 2>/dev/null; }
ready && exit 0

apt_install postgresql
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
mkdir -p "$AICOCKPIT_STATE_DIR" "$SOCKDIR"
chown postgres:postgres "$SOCKDIR"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "postgres: initialising a test cluster" >&2
  rm -rf "$PGDATA"
  install -d -o postgres -g postgres "$PGDATA"
  runuser -u postgres -- "$BIN/initdb" -D "$PGDATA" -U aicockpit --auth=trust >/dev/null
fi
echo "postgres: starting on 127.0.0.1:$PGPORT" >&2
runuser -u postgres -- "$BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
  -o "-p $PGPORT -k $SOCKDIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
ready
