#!/usr/bin/env bash
# Provides the Temporal Server the production-stack test runs (the version docker-compose.yml pins):
# `temporal-server` (go.temporal.io/server/cmd/server), its SQL schema tool `temporal-sql-tool`
# (cmd/tools/sql, what the admin-tools image runs) and the PostgreSQL schema files of the same module
# (schema/postgresql/v12/{temporal,visibility}/versioned), built with `go install` from the Go module proxy into
# the cache directory (GOPATH, GOMODCACHE and GOCACHE there too: nothing in the repository, nothing in ~/go).
# Reused when present. v1.32.0's go.mod has no replace directives and needs Go >= 1.26.8.
#
# Also the module's embedded config template (common/config/config_template_embedded.yaml), which the server
# renders from the environment when started without a config file, as the temporalio/server image starts it.
#
# Prints, on stdout and nothing else, four lines for `eval` / `source`:
#   TEMPORAL_SERVER_PATH=...  TEMPORAL_SQL_TOOL_PATH=...
#   TEMPORAL_SCHEMA_DIR=...   (the directory holding postgresql/v12)   TEMPORAL_CONFIG_TEMPLATE=...
# Each of these variables, when already set in the environment, wins over the cache (and is checked).
# Progress and the build time go to stderr; the build time is also written to $cache_dir/build-info.
#
# The build is heavy (about 1,800 packages): on a shared machine run it as
#   nice -n 19 env GOMAXPROCS=1 bash scripts/ensure-temporal-server.sh
set -euo pipefail
want=1.32.0
go_min=1.26.8 # the `go` line of go.temporal.io/server v1.32.0's go.mod
module=go.temporal.io/server
cache_root="${KMS_DECOM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kms-decommission}"
cache_dir="$cache_root/temporal-server-$want"
server="$cache_dir/bin/temporal-server"
sql_tool="$cache_dir/bin/temporal-sql-tool"
schema="$cache_dir/schema"
template="$cache_dir/config/config_template_embedded.yaml"

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; } # $1 >= $2

# The module version a Go binary was built from (`go version -m`), or nothing.
built_version() { go version -m "$1" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }'; }

server_ok() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }
schema_ok() { [ -d "$1/postgresql/v12/temporal/versioned" ] && [ -d "$1/postgresql/v12/visibility/versioned" ]; }

emit() {
  echo "TEMPORAL_SERVER_PATH=$1"
  echo "TEMPORAL_SQL_TOOL_PATH=$2"
  echo "TEMPORAL_SCHEMA_DIR=$3"
  echo "TEMPORAL_CONFIG_TEMPLATE=$4"
}

if [ -n "${TEMPORAL_SERVER_PATH:-}" ]; then
  server_ok "$TEMPORAL_SERVER_PATH" || { echo "TEMPORAL_SERVER_PATH=$TEMPORAL_SERVER_PATH does not run (--version)" >&2; exit 1; }
fi
if [ -n "${TEMPORAL_SQL_TOOL_PATH:-}" ]; then
  [ -x "$TEMPORAL_SQL_TOOL_PATH" ] || { echo "TEMPORAL_SQL_TOOL_PATH=$TEMPORAL_SQL_TOOL_PATH is not an executable file" >&2; exit 1; }
fi
if [ -n "${TEMPORAL_SCHEMA_DIR:-}" ]; then
  schema_ok "$TEMPORAL_SCHEMA_DIR" || { echo "TEMPORAL_SCHEMA_DIR=$TEMPORAL_SCHEMA_DIR has no postgresql/v12/{temporal,visibility}/versioned" >&2; exit 1; }
fi
if [ -n "${TEMPORAL_CONFIG_TEMPLATE:-}" ]; then
  [ -f "$TEMPORAL_CONFIG_TEMPLATE" ] || { echo "TEMPORAL_CONFIG_TEMPLATE=$TEMPORAL_CONFIG_TEMPLATE is not a file" >&2; exit 1; }
fi
if [ -n "${TEMPORAL_SERVER_PATH:-}" ] && [ -n "${TEMPORAL_SQL_TOOL_PATH:-}" ] && [ -n "${TEMPORAL_SCHEMA_DIR:-}" ] && [ -n "${TEMPORAL_CONFIG_TEMPLATE:-}" ]; then
  emit "$TEMPORAL_SERVER_PATH" "$TEMPORAL_SQL_TOOL_PATH" "$TEMPORAL_SCHEMA_DIR" "$TEMPORAL_CONFIG_TEMPLATE"
  exit 0
fi

# Without Go on PATH the cache directory's name vouches for the version.
binaries_ok() {
  server_ok "$server" && [ -x "$sql_tool" ] && { ! command -v go >/dev/null 2>&1 || [ "$(built_version "$server" || true)" = "v$want" ]; }
}
files_ok() { schema_ok "$schema" && [ -f "$template" ]; }

go_env() {
  command -v go >/dev/null 2>&1 || {
    echo "ensure-temporal-server: building Temporal Server $want needs Go >= $go_min (not found; Debian's golang is older: see https://go.dev/dl)." >&2
    exit 1
  }
  go_v=$(GOTOOLCHAIN=local go env GOVERSION | sed 's/^go//')
  version_ge "$go_v" "$go_min" || {
    echo "ensure-temporal-server: Temporal Server $want needs Go >= $go_min (found $go_v); or set TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH and TEMPORAL_SCHEMA_DIR." >&2
    exit 1
  }
  mkdir -p "$cache_dir"
  export GOPATH="$cache_dir/gopath" GOMODCACHE="$cache_dir/gopath/pkg/mod" GOCACHE="$cache_dir/gocache"
  # GOTOOLCHAIN=local: the Go found above builds it (no toolchain download); -modcacherw: the cache stays deletable.
  export GOTOOLCHAIN=local GOFLAGS=-modcacherw CGO_ENABLED=0
}

if ! binaries_ok || ! files_ok; then
  go_env
  work=$(mktemp -d "$cache_dir/.build.XXXXXX") # same filesystem as bin/: the final mv is atomic
  trap 'rm -rf "$work"' EXIT
fi

if ! binaries_ok; then
  echo "ensure-temporal-server: go install $module/cmd/server and cmd/tools/sql @v$want (Go $go_v, GOMAXPROCS=${GOMAXPROCS:-$(nproc)}) into $cache_dir ..." >&2
  start=$(date +%s)
  GOBIN="$work/bin" go install -trimpath -ldflags "-s -w" "$module/cmd/server@v$want" "$module/cmd/tools/sql@v$want" >&2
  seconds=$(($(date +%s) - start))
  mv "$work/bin/server" "$work/bin/temporal-server"
  mv "$work/bin/sql" "$work/bin/temporal-sql-tool"
  [ "$(built_version "$work/bin/temporal-server")" = "v$want" ] || { echo "ensure-temporal-server: the built binary is not $module v$want." >&2; exit 1; }
  rm -rf "$cache_dir/bin"
  mv "$work/bin" "$cache_dir/bin"
  printf 'version=%s\ngo=%s\ngomaxprocs=%s\nbuild_seconds=%s\nbuilt_at=%s\n' \
    "$want" "$go_v" "${GOMAXPROCS:-$(nproc)}" "$seconds" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$cache_dir/build-info"
  echo "ensure-temporal-server: built Temporal Server $want in ${seconds} s" >&2
fi

if ! files_ok; then
  # The module's source, already in GOMODCACHE after the build (downloaded otherwise).
  moddir=$(go mod download -json "$module@v$want" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  schema_ok "$moddir/schema" || { echo "ensure-temporal-server: $moddir/schema has no PostgreSQL v12 schema." >&2; exit 1; }
  [ -f "$moddir/common/config/config_template_embedded.yaml" ] || { echo "ensure-temporal-server: $moddir has no embedded config template." >&2; exit 1; }
  mkdir -p "$work/schema" "$work/config"
  cp -r "$moddir/schema/postgresql" "$work/schema/"
  cp "$moddir/common/config/config_template_embedded.yaml" "$work/config/"
  chmod -R u+w "$work/schema" "$work/config"
  rm -rf "$schema" "$cache_dir/config"
  mv "$work/schema" "$schema"
  mv "$work/config" "$cache_dir/config"
fi

emit "${TEMPORAL_SERVER_PATH:-$server}" "${TEMPORAL_SQL_TOOL_PATH:-$sql_tool}" "${TEMPORAL_SCHEMA_DIR:-$schema}" "${TEMPORAL_CONFIG_TEMPLATE:-$template}"
