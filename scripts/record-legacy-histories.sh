#!/usr/bin/env bash
# Records replay histories of an OLD commit from that commit's own code, and files them in this tree:
#   scripts/record-legacy-histories.sh <commit> <history-name>...
# e.g. scripts/record-legacy-histories.sh 8249dad cancel-awaiting-approval
# History names are the scenarios of test/support/record-legacy-histories.ts. The script checks the
# commit out in a git worktree (WORKTREE, default /tmp/kms-decommission-record-<sha>; node_modules is
# symlinked from this tree), runs the scenarios there with jest (its globalSetup starts a dev server),
# exports each run with `temporal workflow show -o json`, and files it with writeHistory under
# test/histories/<that commit's package.json version>/, appending to SHA256SUMS. An existing history is
# never overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[ $# -ge 2 ] || { echo "usage: $0 <commit> <history-name>..." >&2; exit 2; }
commit=$(git rev-parse --verify "$1^{commit}")
shift
names=("$@")
export TEMPORAL_CLI_PATH="${TEMPORAL_CLI_PATH:-$HOME/.cache/kms-decommission/temporal-cli-1.9.1/temporal}"
wt="${WORKTREE:-/tmp/kms-decommission-record-${commit:0:12}}"

created=0
if [ -d "$wt" ]; then
  [ "$(git -C "$wt" rev-parse HEAD)" = "$commit" ] || { echo "$wt is not a worktree at $commit" >&2; exit 1; }
else
  git worktree add --detach "$wt" "$commit"
  created=1
fi
[ -e "$wt/node_modules" ] || ln -s "$root/node_modules" "$wt/node_modules"
version=$(node -p "require('$wt/package.json').version")

# Refuse up front, before minutes of recording.
for name in "${names[@]}"; do
  npx ts-node --transpile-only -e "require('./test/support/histories').assertNotRecorded('$name', { version: '$version' })"
done

out=$(mktemp -d)
cp test/support/record-legacy-histories.ts "$wt/test/support/record-legacy-histories.test.ts"
(
  cd "$wt"
  RECORD_SCENARIOS=$(IFS=,; echo "${names[*]}") RECORD_OUT="$out" npx jest --ci test/support/record-legacy-histories.test.ts
)
rm "$wt/test/support/record-legacy-histories.test.ts"

for name in "${names[@]}"; do
  OUT="$out" NAME="$name" VERSION="$version" npx ts-node --transpile-only -e "
    const { readFileSync } = require('node:fs');
    const { writeHistory } = require('./test/support/histories');
    const rel = writeHistory(readFileSync(process.env.OUT + '/' + process.env.NAME + '.json', 'utf8'), process.env.NAME, { version: process.env.VERSION });
    console.log('recorded test/histories/' + rel + ' at ${commit:0:12}');
  "
done
rm -rf "$out"
if [ "$created" = 1 ]; then git worktree remove --force "$wt"; fi
