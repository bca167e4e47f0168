#!/usr/bin/env bash
# Runs a command with the project's Node (>= 22; scripts/ensure-node.sh finds it or downloads Node 24.22.3)
# first on PATH. The npm scripts that start the demo, the worker, the emulator, the operator CLI and the
# benchmark go through it, so that `npm run demo` on an older system Node (npm itself runs on whatever `node`
# is first on PATH) still runs every process on Node 24: `ts-node` is a `#!/usr/bin/env node` script, and
# the demo and the benchmark start their children with `process.execPath`.
set -euo pipefail
node_bin="$(bash "$(dirname "$0")/ensure-node.sh")"
PATH="$(dirname "$node_bin"):$PATH"
export PATH
exec "$@"
