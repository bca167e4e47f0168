#!/usr/bin/env bash
# Runs the project's Temporal CLI (v1.5.1, resolved or built by ensure-temporal.sh) with the given arguments.
set -euo pipefail
cli="$(bash "$(dirname "$0")/ensure-temporal.sh")"
exec "$cli" "$@"
