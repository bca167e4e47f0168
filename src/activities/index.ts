import { createDecisionActivities } from './decisions';
import type { ActivityDeps } from './deps';
import { createInventoryActivities } from './inventory';
import { createKeyActivities } from './keys';
import { createNotifyActivities } from './notify';
import { createPolicyActivities } from './policy';
import { createRunStatusActivities } from './run-status';
import { createStoreActivities } from './store';
import { createUsageActivities } from './usage';
import { createWatchActivities } from './watch';

export type { ActivityDeps } from './deps';
export type { InventoryScanInput, InventoryPage, DriftScanInput, DriftScan } from './inventory';
export type { ScheduleKeysInput, ScheduleKeysResult, CheckKeysInput, RollbackKeysInput, RollbackKeyOutcome, RollbackAction } from './keys';
export type { ConnectInput, ConnectionResult, StoreRef, StoreWaitInput, WatchStoreInput, WatchStoreResult } from './store';
export {
  createKmsRateLimiter,
  CLOUDTRAIL_DEFAULT_QUOTAS,
  KMS_DEFAULT_QUOTAS,
  type CloudTrailOperation,
  type KmsOperation,
  type KmsRateLimiter,
  type PacedOperation,
} from './rate-limiter';
export { createCloudTrailClient, createKmsClient } from './kms-client';
export { createAwsGateway, type AwsGateway } from './aws-gateway';
export { createNotifyActivities, type NotifyActivityOptions } from './notify';
export { notificationsConfigured, notifyFromEnv } from './notify-config';

/**
 * Builds every activity of the decommission workflow around injected clients (KMS, and CloudTrail for the
 * usage evidence), so the worker wires
 * real AWS and tests wire the emulator, with no module-level singletons.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createStoreActivities(deps),
    ...createInventoryActivities(deps),
    ...createKeyActivities(deps),
    ...createUsageActivities(deps),
    ...createWatchActivities(deps),
    ...createPolicyActivities(deps),
    ...createDecisionActivities(deps),
    ...createNotifyActivities(deps.notify ?? { sinks: [] }),
    ...createRunStatusActivities(),
  };
}

/** The activity interface the workflow proxies (`import type` only). */
export type DecommissionActivities = ReturnType<typeof createActivities>;
