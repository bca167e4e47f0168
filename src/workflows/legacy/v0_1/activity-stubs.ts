import { proxyActivities, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { DecommissionActivities } from '../../../activities';

/**
 * Failure types that retrying cannot fix. Activities already mark them non-retryable; listing them here
 * too protects against an activity that forgets to.
 */
const PERMANENT_ERRORS = [
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'NotFoundException',
  'ValidationException',
  'InvalidArnException',
  'CustomKeyStoreNotFoundException',
  'InventoryIncomplete',
  'StoreStateTimeout',
];

/**
 * Transient KMS errors are already retried inside each activity (paced, with jitter); this policy covers
 * what is left: crashed workers, network partitions, long throttling storms. It is bounded so that a
 * step that cannot succeed surfaces as BLOCKED with the error instead of retrying silently forever.
 */
const retry: RetryPolicy = {
  initialInterval: 2_000,
  backoffCoefficient: 2,
  maximumInterval: 120_000,
  maximumAttempts: 12,
  nonRetryableErrorTypes: PERMANENT_ERRORS,
};

/** Quick single calls. */
export const quickOptions: ActivityOptions = { startToCloseTimeout: 120_000, retry };

/**
 * Long, heartbeating batches. The heartbeat timeout is what detects a dead worker, so it is short; the
 * retry then resumes from the last heartbeat checkpoint.
 */
export const batchOptions: ActivityOptions = { startToCloseTimeout: 3_600_000, heartbeatTimeout: 20_000, retry };

export const quick = proxyActivities<DecommissionActivities>(quickOptions);
export const batch = proxyActivities<DecommissionActivities>(batchOptions);

/** Connect/disconnect poll for minutes (CloudHSM connects can take 20); heartbeats come once per poll. */
export function storeWaitStub(pollIntervalMs: number, timeoutMs: number) {
  return proxyActivities<DecommissionActivities>({
    startToCloseTimeout: timeoutMs + 5 * 60_000,
    heartbeatTimeout: Math.max(3 * pollIntervalMs, 30_000),
    retry,
  });
}
