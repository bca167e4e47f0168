#!/usr/bin/env bash
# The project's test command (`npm test`): type-check (src/ also with noUncheckedIndexedAccess), check the
# formatting, lint, then every jest suite against a real
# Temporal dev server (started by jest's globalSetup) and the in-repo KMS emulator. Everything runs on the
# Node that scripts/ensure-node.sh finds or downloads (>= 22; Node 24.22.3 when the system Node is older).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_BIN="$(bash scripts/ensure-node.sh)"
PATH="$(dirname "$NODE_BIN"):$PATH"
export PATH
echo "Node: $NODE_BIN ($(node --version))"
TEMPORAL_CLI_PATH="$(bash scripts/ensure-temporal.sh)"
export TEMPORAL_CLI_PATH
echo "Temporal CLI: $TEMPORAL_CLI_PATH ($("$TEMPORAL_CLI_PATH" --version))"
npx tsc -p tsconfig.json --noEmit
npx tsc -p tsconfig.src.json --noEmit
npx prettier --check --log-level warn .
npx eslint --max-warnings 0 .
npx jest --ci "$@"
