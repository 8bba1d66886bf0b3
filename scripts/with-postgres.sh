#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server on loopback and STEMJEPA_TEST_POSTGRES_URL set,
# so the database tests run against a real server as well as SQLite. initdb refuses root, so the
# server runs as an unprivileged user. Without PostgreSQL binaries the command runs alone and the
# PostgreSQL tests skip, saying why.
set -euo pipefail
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "with-postgres: no PostgreSQL server binaries found; PostgreSQL tests will skip" >&2
    exec "$@"
fi
PG_PORT=${PG_PORT:-55432}
PG_DIR=$(mktemp -d /tmp/stemjepa-pg.XXXXXX)
PG_USER=$(id -un)
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
    PG_USER=${PG_USER_UNPRIVILEGED:-postgres}
    id "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER"
    chown "$PG_USER" "$PG_DIR"
    RUN_AS=(runuser -u "$PG_USER" --)
fi
cleanup() { "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"; }
trap cleanup EXIT
"${RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U stemjepa --auth=trust >/dev/null
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
"${RUN_AS[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U stemjepa stemjepa_test
export STEMJEPA_TEST_POSTGRES_URL="postgresql+psycopg://stemjepa@127.0.0.1:$PG_PORT/stemjepa_test"
echo "with-postgres: PostgreSQL ready at 127.0.0.1:$PG_PORT" >&2
"$@"
