import { activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { StoreInfo } from '../shared/types';
import type { FindAttemptedUseResult, WatchPeriodInput, WatchPeriodResult } from '../shared/usage';
import { createAwsGateway } from './aws-gateway';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './kms-errors';
import { MIN_WATCH_POLL_MS, pauseHeartbeating, readStoreIfExists } from './store';
import { createUsageActivities } from './usage';

/** Event ids remembered to de-duplicate overlapping windows (the workflow keeps the same bound). */
const SEEN_KEPT = 500;

/** What `watchPeriod` heartbeats, and resumes from on a retry. */
interface WatchPeriodCheckpoint {
  v: 1;
  lastSeenConnectedAt?: number;
  connectionChecks: number;
  usage?: NonNullable<WatchPeriodResult['usage']>;
}

/**
 * The waits of a run (the quiet period, the waiting period) as one long activity: the store's connection
 * and CloudTrail are checked inside it, so a check every few minutes for 30 days costs heartbeats, not
 * history. It returns as soon as a check finds something for a person to decide.
 */
export function createWatchActivities(deps: ActivityDeps) {
  const now = deps.now ?? Date.now;
  const aws = createAwsGateway(deps);
  const { findAttemptedUse } = createUsageActivities(deps);

  return {
    /**
     * Watches until `untilMs`: DescribeCustomKeyStores every `connection.pollIntervalMs` (NOT_CONNECTED or GONE
     * end it), and every `usage.intervalMs` a CloudTrail check for attempted use of the store's keys since the
     * last one, minus the delivery lag (KEY_IN_USE ends it). Heartbeats every second and after every check;
     * a retry resumes from the last heartbeat. A failed CloudTrail check fails the activity with type
     * `AttemptedUseCheckFailed` (retryable unless the cause is not), so the workflow can tell it from a
     * failed connection check.
     */
    async watchPeriod(input: WatchPeriodInput): Promise<WatchPeriodResult> {
      const restored = activityInfo().heartbeatDetails as WatchPeriodCheckpoint | undefined;
      const progress: WatchPeriodCheckpoint =
        restored?.v === 1
          ? restored
          : {
              v: 1,
              connectionChecks: 0,
              ...(input.usage ? { usage: { cursor: { ...input.usage.cursor }, checks: 0, lookupCalls: 0, counted: 0, found: [], foundTotal: 0 } } : {}),
            };
      const beat = () => heartbeat(progress);
      const result = (outcome: WatchPeriodResult['outcome'], extra: Partial<WatchPeriodResult> = {}): WatchPeriodResult => {
        beat();
        return {
          outcome,
          lastSeenConnectedAt: progress.lastSeenConnectedAt,
          connectionChecks: progress.connectionChecks,
          ...(progress.usage ? { usage: progress.usage } : {}),
          ...extra,
        };
      };
      const pollMs = input.connection ? Math.max(input.connection.pollIntervalMs, MIN_WATCH_POLL_MS) : Infinity;
      let nextConnectionCheck = input.connection ? now() : Infinity;

      const checkUsage = async (): Promise<FindAttemptedUseResult> => {
        const u = input.usage as NonNullable<WatchPeriodInput['usage']>;
        const state = progress.usage as NonNullable<WatchPeriodResult['usage']>;
        const cursor = state.cursor;
        const end = now();
        // CloudTrail's eventTime has whole seconds: an event in the same second as the start must not fall outside.
        const startTime = Math.floor(Math.max(cursor.since, (cursor.checkedUntil ?? cursor.since) - u.lagMs) / 1_000) * 1_000;
        let found: FindAttemptedUseResult;
        try {
          found = await findAttemptedUse({
            customKeyStoreId: input.customKeyStoreId,
            keyArns: u.keyArns,
            startTime,
            endTime: end,
            strategy: 'auto',
            seenEventIds: cursor.seenEventIds,
            acknowledged: u.acknowledged,
            countAcknowledged: { from: cursor.acknowledgedCountedUntil ?? startTime, until: Math.max(startTime, end - u.lagMs) },
          });
        } catch (err) {
          const failure = err instanceof ApplicationFailure ? err : toActivityFailure(err, 'LookupEvents');
          if (!(failure instanceof ApplicationFailure)) throw failure; // a cancellation
          throw ApplicationFailure.create({
            type: 'AttemptedUseCheckFailed',
            message: `attempted-use check (CloudTrail LookupEvents): ${failure.type ? `${failure.type}: ` : ''}${failure.message}`,
            nonRetryable: failure.nonRetryable ?? undefined,
            cause: failure,
          });
        }
        state.checks++;
        state.lookupCalls += found.cost.lookupCalls;
        state.counted += found.total + found.acknowledgedEvents;
        if (!state.slowest || found.cost.elapsedMs > state.slowest.elapsedMs) state.slowest = found.cost;
        cursor.checkedUntil = end;
        cursor.acknowledgedCountedUntil = Math.max(cursor.acknowledgedCountedUntil ?? startTime, end - u.lagMs);
        cursor.seenEventIds = [...cursor.seenEventIds, ...found.findings.map((f) => f.eventId)].slice(-SEEN_KEPT);
        cursor.nextCheckAt = now() + u.intervalMs;
        return found;
      };

      try {
        for (;;) {
          const t = now();
          if (input.connection && t >= nextConnectionCheck) {
            const sentAt = now();
            const store: StoreInfo | null = await readStoreIfExists(aws, input.customKeyStoreId, { keepAlive: beat });
            progress.connectionChecks++;
            if (!store || store.connectionState !== 'CONNECTED') {
              return result(store ? 'NOT_CONNECTED' : 'GONE', { ...(store ? { store } : {}), firstSeenNotConnectedAt: now() });
            }
            progress.lastSeenConnectedAt = sentAt;
            nextConnectionCheck = now() + pollMs;
            beat();
          }
          if (progress.usage && now() >= progress.usage.cursor.nextCheckAt && now() < input.untilMs) {
            const found = await checkUsage();
            beat();
            if (found.findings.length > 0) return result('KEY_IN_USE', { usage: { ...progress.usage, found: found.findings, foundTotal: found.total } });
          }
          const left = input.untilMs - now();
          if (left <= 0) return result('UNTIL');
          const wake = Math.min(input.untilMs, nextConnectionCheck, progress.usage?.cursor.nextCheckAt ?? Infinity);
          await pauseHeartbeating(Math.max(0, Math.min(left, wake - now())), beat);
        }
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === 'AttemptedUseCheckFailed') throw err;
        throw toActivityFailure(err, `watch ${input.customKeyStoreId}`);
      }
    },
  };
}
