#!/bin/sh
# Creates (first run) and migrates (every run) Temporal's two PostgreSQL databases. Runs in the
# temporalio/admin-tools image; temporal-sql-tool reads SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and
# SQL_PASSWORD from the environment. Idempotent: `docker compose up` runs it every time.
set -eu

echo "Waiting for PostgreSQL at ${SQL_HOST}:${SQL_PORT}..."
until nc -z "${SQL_HOST}" "${SQL_PORT}"; do sleep 1; done

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) schema=temporal ;;
    *) schema=visibility ;;
  esac
  # "already exists" is the normal case after the first run; any other failure stops the stack here.
  if ! out=$(temporal-sql-tool --db "$db" create 2>&1); then
    case "$out" in
      *"already exists"*) echo "database $db already exists" ;;
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/${schema}/versioned"
done
echo "Temporal schema is up to date"
