import type { KeyChecks } from '../shared/types';
import type { DecommissionActivities, PacedOperation, RollbackKeyOutcome, ScheduleKeysResult } from '../activities';
import type { DisableKeysResult } from '../shared/usage';
import { type Counter, MetricsRegistry } from './registry';

/**
 * What the activities report as they run, through `ActivityDeps.metrics`. Every AWS request goes through
 * `callKms` (the gateway's one door), which reports each attempt it sends.
 */
export interface AwsCallObserver {
  /** One request sent and answered: `outcome` is `success` or the AWS error's name (`ThrottlingException`…). */
  awsCall(operation: PacedOperation, outcome: string, throttled: boolean): void;
}

/** Operations that are CloudTrail's; every other paced operation is KMS's. */
const CLOUDTRAIL_OPERATIONS: ReadonlySet<string> = new Set(['LookupEvents']);

/** The `service` label of an operation. */
export const serviceOf = (operation: string): 'kms' | 'cloudtrail' => (CLOUDTRAIL_OPERATIONS.has(operation) ? 'cloudtrail' : 'kms');

/** The decommission worker's own metrics (names documented in the README, "Metrics"). */
export interface WorkerMetrics extends AwsCallObserver {
  readonly registry: MetricsRegistry;
  readonly awsCalls: Counter;
  readonly throttles: Counter;
  readonly keysScheduled: Counter;
  readonly keysRolledBack: Counter;
  readonly keysConfirmedDeleted: Counter;
  readonly keysDisabled: Counter;
  /** Wraps the activities so that completed batches count their keys; the activities' behaviour is unchanged. */
  instrument<A extends Partial<DecommissionActivities>>(activities: A): A;
}

/** Builds the worker's counters in a fresh registry. */
export function createWorkerMetrics(registry: MetricsRegistry = new MetricsRegistry()): WorkerMetrics {
  const awsCalls = registry.counter(
    'kms_decommission_aws_calls_total',
    'AWS requests sent by the activities and answered, by service, operation and outcome (success or the AWS error name); each retry counts',
    ['service', 'operation', 'outcome'],
  );
  const throttles = registry.counter('kms_decommission_aws_throttles_total', 'AWS requests answered with throttling, by service and operation', [
    'service',
    'operation',
  ]);
  const keysScheduled = registry.counter(
    'kms_decommission_keys_scheduled_total',
    'Keys this worker scheduled for deletion (outcome SCHEDULED of a completed scheduleKeys batch)',
  );
  const keysRolledBack = registry.counter(
    'kms_decommission_keys_rolled_back_total',
    'Keys a completed rollbackKeys batch restored (CancelKeyDeletion and/or EnableKey sent for the key)',
  );
  const keysConfirmedDeleted = registry.counter(
    'kms_decommission_keys_confirmed_deleted_total',
    'Scheduled keys that verification found deleted (DescribeKey answered NotFoundException), per completed checkKeys batch',
  );
  const keysDisabled = registry.counter('kms_decommission_keys_disabled_total', 'Keys a completed disableKeys batch (quiet period) disabled');

  const count = <T>(fn: (...args: never[]) => Promise<T>, onResult: (result: T) => void) =>
    async function (this: unknown, ...args: never[]): Promise<T> {
      const result = await fn.apply(this, args);
      try {
        onResult(result);
      } catch {
        // Counting must never fail an activity.
      }
      return result;
    };

  return {
    registry,
    awsCalls,
    throttles,
    keysScheduled,
    keysRolledBack,
    keysConfirmedDeleted,
    keysDisabled,
    awsCall(operation, outcome, throttled) {
      const service = serviceOf(operation);
      awsCalls.inc({ service, operation, outcome });
      if (throttled) throttles.inc({ service, operation });
    },
    instrument(activities) {
      const wrapped: Record<string, unknown> = { ...activities };
      const a = activities as Partial<DecommissionActivities>;
      if (a.scheduleKeys)
        wrapped.scheduleKeys = count(a.scheduleKeys as never, (r: ScheduleKeysResult) =>
          keysScheduled.inc({}, r.outcomes.filter((o) => o.outcome === 'SCHEDULED').length),
        );
      if (a.rollbackKeys)
        wrapped.rollbackKeys = count(a.rollbackKeys as never, (r: RollbackKeyOutcome[]) =>
          keysRolledBack.inc({}, r.filter((o) => (o.actions?.length ?? 0) > 0).length),
        );
      if (a.checkKeys) wrapped.checkKeys = count(a.checkKeys as never, (r: KeyChecks) => keysConfirmedDeleted.inc({}, r.deleted.length));
      if (a.disableKeys)
        wrapped.disableKeys = count(a.disableKeys as never, (r: DisableKeysResult) =>
          keysDisabled.inc({}, r.outcomes.filter((o) => o.outcome === 'DISABLED').length),
        );
      return wrapped as typeof activities;
    },
  };
}
