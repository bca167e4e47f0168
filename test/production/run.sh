#!/usr/bin/env bash
# `npm run test:production-stack`: provisions what the production-stack test runs (Node 24, the Temporal CLI,
# PostgreSQL from Debian, Temporal Server 1.32.0 built from its Go module: all cached outside the repository,
# see the ensure-*.sh scripts), then runs test/production/ with its own jest config (no shared dev server).
# Opt-in, not part of `npm test`: the first server build alone takes minutes on 2 cores.
# PRODUCTION_STACK_KEEP=1 keeps the logs (PostgreSQL, server, emulator, worker) and prints where.
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE_BIN="$(bash scripts/ensure-node.sh)"
PATH="$(dirname "$NODE_BIN"):$PATH"
export PATH
TEMPORAL_CLI_PATH="$(bash scripts/ensure-temporal.sh)"
export TEMPORAL_CLI_PATH
command -v docker-compose >/dev/null 2>&1 || {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  else
    echo "test:production-stack reads docker-compose.yml through docker-compose (Debian: apt-get install docker-compose)." >&2
    exit 1
  fi
}
eval "$(bash scripts/ensure-postgres.sh)"
echo "PostgreSQL: $PG_BINDIR (major $PG_VERSION)${PG_RUN_AS:+, run as $PG_RUN_AS}"
# The first build compiles about 1,800 Go packages; later runs reuse the cache.
eval "$(bash scripts/ensure-temporal-server.sh)"
export TEMPORAL_SERVER_PATH TEMPORAL_SQL_TOOL_PATH TEMPORAL_SCHEMA_DIR TEMPORAL_CONFIG_TEMPLATE
echo "Temporal Server: $TEMPORAL_SERVER_PATH ($("$TEMPORAL_SERVER_PATH" --version))"
start=$(date +%s)
PRODUCTION_STACK=1 npx jest --ci -c test/production/jest.config.js "$@"
echo "production-stack test: $(($(date +%s) - start)) s wall time"
