#!/bin/sh
# Creates (first run) and migrates (every run) Temporal's two PostgreSQL databases, as the server's official
# auto-setup did: create the database, `setup-schema -v 0.0` (the versioning tables), then `update-schema` to the
# newest version in the schema directory. Runs in the temporalio/admin-tools image (schema files under
# /etc/temporal/schema); temporal-sql-tool reads SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD from
# the environment. Idempotent: `docker compose up` runs it every time. TEMPORAL_SCHEMA_DIR points elsewhere (the
# production-stack test runs this script natively with the schema files of the server module it built).
set -eu
schema_dir="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}"

# Compose already waits for PostgreSQL's health check; this covers a database started by other means.
if command -v nc >/dev/null 2>&1; then
  echo "Waiting for PostgreSQL at ${SQL_HOST}:${SQL_PORT}..."
  until nc -z "${SQL_HOST}" "${SQL_PORT}"; do sleep 1; done
fi

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) schema=temporal ;;
    *) schema=visibility ;;
  esac
  # temporal-sql-tool 1.32 accepts an existing database; older ones fail with "already exists", the normal case
  # after the first run. Any other failure stops the stack here.
  if ! out=$(temporal-sql-tool --db "$db" create 2>&1); then
    case "$out" in
      *"already exists"*) echo "database $db already exists" ;;
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema -d "${schema_dir}/postgresql/v12/${schema}/versioned"
done
echo "Temporal schema is up to date"
