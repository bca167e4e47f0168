import { ActivityCancellationType, proxyActivities, type RetryPolicy } from '@temporalio/workflow';
import type { DecommissionActivities } from '../activities';
import { NON_RETRYABLE_FAILURE_TYPES } from '../shared/errors';

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
  nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
};

/** Quick single calls. */
export const quick = proxyActivities<DecommissionActivities>({ startToCloseTimeout: 120_000, retry });

/**
 * Read-only heartbeating batches (inventory, drift scans, key checks). The heartbeat timeout is what
 * detects a dead worker, so it is short; the retry then resumes from the last heartbeat checkpoint.
 * Before any change, an inventory that keeps failing for a retryable reason (a throttling storm) keeps
 * retrying rather than failing the run: only errors that retrying cannot fix fail closed.
 */
export const batch = proxyActivities<DecommissionActivities>({ startToCloseTimeout: 3_600_000, heartbeatTimeout: 20_000, retry });

export const inventory = proxyActivities<DecommissionActivities>({
  startToCloseTimeout: 3_600_000,
  heartbeatTimeout: 20_000,
  scheduleToCloseTimeout: 6 * 3_600_000,
  // No attempt limit: the schedule-to-close timeout bounds it.
  retry: {
    initialInterval: retry.initialInterval,
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: 300_000,
    nonRetryableErrorTypes: retry.nonRetryableErrorTypes,
  },
});

/**
 * Activities that change keys. A cancel waits until the activity has really stopped (it checks before
 * every key), so the rollback that follows never races a batch that is still scheduling.
 */
export const mutating = proxyActivities<DecommissionActivities>({
  startToCloseTimeout: 3_600_000,
  heartbeatTimeout: 20_000,
  retry,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** Connect/disconnect poll for minutes (CloudHSM connects can take 20); heartbeats come once per poll. */
export function storeWaitStub(pollIntervalMs: number, timeoutMs: number) {
  return proxyActivities<DecommissionActivities>({
    startToCloseTimeout: timeoutMs + 5 * 60_000,
    heartbeatTimeout: Math.max(3 * pollIntervalMs, 30_000),
    retry,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
}

/**
 * The connection watcher runs until the next drift check (up to a day). It heartbeats every second,
 * between checks too, so a worker that dies (or a deploy that stops it) is noticed within the heartbeat
 * timeout, whatever the check interval, and the retry resumes watching on another worker.
 */
export function watchStub(untilInMs: number, pollIntervalMs: number) {
  return proxyActivities<DecommissionActivities>({
    startToCloseTimeout: Math.max(untilInMs, 0) + Math.max(2 * pollIntervalMs, 60_000) + 60_000,
    heartbeatTimeout: 20_000,
    retry,
  });
}
