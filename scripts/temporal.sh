#!/usr/bin/env bash
# Runs the project's Temporal CLI (1.9.1, found or downloaded by ensure-temporal.sh) with the given arguments:
# `npm run temporal -- workflow list` (add -s, `npm run -s temporal -- …`, when the output is redirected to a file).
set -euo pipefail
cli="$(bash "$(dirname "$0")/ensure-temporal.sh")"
exec "$cli" "$@"
