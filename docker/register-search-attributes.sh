#!/bin/sh
# Creates the namespace if it is missing and registers the search attributes the decommission workflow
# writes (src/shared/search-attributes.ts). Runs in the temporalio/admin-tools image; the Temporal CLI
# reads TEMPORAL_ADDRESS. Idempotent: an attribute that already exists with the same type is accepted.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"

echo "Waiting for Temporal at ${TEMPORAL_ADDRESS}..."
until temporal operator cluster health 2>/dev/null | grep -q SERVING; do sleep 2; done

if ! temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  # Closed decommissions stay browsable (history, report) for the retention period.
  temporal operator namespace create --namespace "$ns" --retention "${TEMPORAL_NAMESPACE_RETENTION:-720h}"
fi
# A new namespace takes a moment to reach every frontend's cache.
until temporal operator search-attribute list --namespace "$ns" >/dev/null 2>&1; do sleep 1; done

temporal operator search-attribute create --namespace "$ns" \
  --name KmsCustomKeyStoreId --type Keyword \
  --name DecommissionPhase --type Keyword
echo "Search attributes registered in namespace $ns"
