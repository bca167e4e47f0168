import type { ActivityDeps } from './deps';
import { createInventoryActivities } from './inventory';
import { createKeyActivities } from './keys';
import { createPolicyActivities } from './policy';
import { createRunStatusActivities } from './run-status';
import { createStoreActivities } from './store';

export type { ActivityDeps } from './deps';
export type { InventoryScanInput, InventoryPage, DriftScanInput, DriftScan } from './inventory';
export type { ScheduleKeysInput, ScheduleKeysResult, CheckKeysInput, RollbackKeysInput, RollbackKeyOutcome, RollbackAction } from './keys';
export type { ConnectInput, ConnectionResult, StoreRef, StoreWaitInput, WatchStoreInput, WatchStoreResult } from './store';
export { createKmsRateLimiter, KMS_DEFAULT_QUOTAS, type KmsOperation, type KmsRateLimiter } from './rate-limiter';
export { createKmsClient } from './kms-client';

/**
 * Builds every activity of the decommission workflow around injected clients, so the worker wires
 * real AWS and tests wire the emulator, with no module-level singletons.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createStoreActivities(deps),
    ...createInventoryActivities(deps),
    ...createKeyActivities(deps),
    ...createPolicyActivities(deps),
    ...createRunStatusActivities(),
  };
}

/** The activity interface the workflow proxies (`import type` only). */
export type DecommissionActivities = ReturnType<typeof createActivities>;
