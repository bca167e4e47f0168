#!/usr/bin/env bash
# Prints the path of a Temporal CLI compatible with v1.5.1, building it from source if needed.
# Order: $TEMPORAL_CLI_PATH, a `temporal` >= 1.5.1 on PATH, the cached build, a fresh `go install`.
set -euo pipefail
want=1.5.1
cache_dir="${KMS_DECOM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kms-decommission}/temporal-cli-$want"
cached="$cache_dir/temporal"

version_ok() { # $1 = binary; true when it reports a CLI version >= 1.5.1
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^temporal version \([0-9][0-9.]*\).*/\1/p' | head -n1)
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$want" "$v" | sort -V | head -n1)" = "$want" ]
}

if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || { echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file" >&2; exit 1; }
  echo "$TEMPORAL_CLI_PATH"; exit 0
fi
if on_path=$(command -v temporal 2>/dev/null) && version_ok "$on_path"; then echo "$on_path"; exit 0; fi
if [ -x "$cached" ] && version_ok "$cached"; then echo "$cached"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  echo "Temporal CLI v$want not found. Install it (https://docs.temporal.io/cli), set TEMPORAL_CLI_PATH," >&2
  echo "or install Go >= 1.25 so this script can build it from source." >&2
  exit 1
fi
go_v=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' 1.25 "$go_v" | sort -V | head -n1)" != 1.25 ]; then
  echo "Building Temporal CLI v$want needs Go >= 1.25 (found $go_v). Upgrade Go or set TEMPORAL_CLI_PATH." >&2
  exit 1
fi
echo "Building Temporal CLI v$want from source into $cache_dir (first run only, a few minutes)..." >&2
mkdir -p "$cache_dir"
GOBIN="$cache_dir" CGO_ENABLED=0 go install \
  -ldflags "-s -w -X github.com/temporalio/cli/temporalcli.Version=$want" \
  "github.com/temporalio/cli/cmd/temporal@v$want" >&2
version_ok "$cached" || { echo "Built $cached but it does not report version $want" >&2; exit 1; }
echo "$cached"
