#!/bin/sh
# test-postgres.sh starts a throwaway PostgreSQL 15 server, runs the given
# command with FERRY_TEST_PG_URL pointing at it, then stops the server and
# removes its files, whatever way the command ends:
#
#	scripts/test-postgres.sh go test ./internal/store/
#
# Without a command it prints the URL and keeps the server until interrupted.
# The server listens only on a unix socket in its own temporary directory, so
# several runs never fight over a port. PGBIN overrides where the PostgreSQL
# programs are (default /usr/lib/postgresql/15/bin).
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
	echo "test-postgres: no initdb or pg_ctl in $PGBIN (install postgresql-15 or set PGBIN)" >&2
	exit 1
fi

# initdb and postgres refuse to run as root: as root, run them as postgres.
as_server() { "$@"; }
if [ "$(id -u)" = 0 ]; then
	if ! id postgres >/dev/null 2>&1; then
		echo "test-postgres: running as root needs a postgres user to run the server as" >&2
		exit 1
	fi
	as_server() { runuser -u postgres -- "$@"; }
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX")
started=""
sleeper=""
cleanup() {
	status=$?
	trap - EXIT INT TERM HUP
	if [ -n "$sleeper" ]; then
		kill "$sleeper" 2>/dev/null || true
	fi
	if [ -n "$started" ]; then
		as_server "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "$(id -u)" = 0 ]; then
	chown postgres: "$dir"
fi

as_server "$PGBIN/initdb" -D "$dir/data" -U ferry -A trust -E UTF8 --locale=C.UTF-8 \
	--no-sync --no-instructions >"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	exit 1
}

# Durability is worth nothing for a server that lives one test run.
started=1
as_server "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
	-o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
	start || {
	cat "$dir/server.log" >&2
	exit 1
}
"$PGBIN/createdb" -h "$dir" -U ferry ferry

FERRY_TEST_PG_URL="postgres://ferry@/ferry?host=$dir&sslmode=disable"
export FERRY_TEST_PG_URL

if [ $# -eq 0 ]; then
	echo "FERRY_TEST_PG_URL=$FERRY_TEST_PG_URL"
	echo "test-postgres: server running; interrupt to stop it" >&2
	while :; do
		sleep 3600 &
		sleeper=$!
		wait "$sleeper" || true
	done
fi

set +e
"$@"
