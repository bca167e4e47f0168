#!/usr/bin/env bash
# Finds (or, as root on Debian, installs with apt-get) PostgreSQL's server binaries for the production-stack
# test, which runs its own throwaway instance: `initdb` into a temporary data directory, `pg_ctl start` on a
# free loopback port, `pg_ctl stop` at the end. Nothing here starts, stops or reads a system-wide cluster
# (Debian's package may create one at install; it is left alone).
#
# Prints, on stdout and nothing else, lines for `eval` / `source`:
#   PG_BINDIR=...   the directory with initdb, pg_ctl, postgres, pg_isready
#   PG_VERSION=...  its major version
#   PG_RUN_AS=...   the user to run initdb and pg_ctl as (`postgres` when this runs as root: PostgreSQL refuses
#                   to run as root), empty when the current user runs them itself
# $PG_BINDIR, when set, wins (it must hold initdb and pg_ctl).
set -euo pipefail

has_server() { [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]; }

find_bindir() {
  local d
  if [ -n "${PG_BINDIR:-}" ]; then
    has_server "$PG_BINDIR" || { echo "PG_BINDIR=$PG_BINDIR has no initdb/pg_ctl/postgres" >&2; return 2; }
    echo "$PG_BINDIR"
    return 0
  fi
  # Debian keeps the server binaries out of PATH, one directory per major version: the newest wins.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if has_server "$d"; then echo "$d"; return 0; fi
  done
  if command -v pg_config >/dev/null 2>&1 && has_server "$(pg_config --bindir)"; then pg_config --bindir; return 0; fi
  if command -v initdb >/dev/null 2>&1; then
    d=$(dirname "$(readlink -f "$(command -v initdb)")")
    if has_server "$d"; then echo "$d"; return 0; fi
  fi
  return 1
}

if ! bindir=$(find_bindir); then
  [ -z "${PG_BINDIR:-}" ] || exit 1
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-postgres: apt-get install postgresql (Debian's PostgreSQL server)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bindir=$(find_bindir) || { echo "ensure-postgres: postgresql installed, but no initdb/pg_ctl found under /usr/lib/postgresql." >&2; exit 1; }
  else
    echo "ensure-postgres: PostgreSQL's server is not installed. Debian: sudo apt-get install postgresql; or set PG_BINDIR." >&2
    exit 1
  fi
fi

version=$("$bindir/postgres" --version | sed -n 's/.* \([0-9][0-9]*\)\(\.[0-9]*\)*.*/\1/p' | head -n1)
run_as=
if [ "$(id -u)" = 0 ]; then
  run_as="${PG_RUN_AS:-postgres}"
  id -u "$run_as" >/dev/null 2>&1 || {
    echo "ensure-postgres: running as root, and there is no '$run_as' user to run PostgreSQL as (set PG_RUN_AS to another non-root user)." >&2
    exit 1
  }
fi
echo "PG_BINDIR=$bindir"
echo "PG_VERSION=$version"
echo "PG_RUN_AS=$run_as"
