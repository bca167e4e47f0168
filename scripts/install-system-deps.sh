#!/usr/bin/env bash
# Installs what the test suite needs from outside npm: the Temporal CLI (built from source and cached
# outside the repo) and Debian packages for the AWS CLI check and the Web UI browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v aws >/dev/null 2>&1 || missing+=(awscli)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
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
