import { ContinueAsNew, sleep } from '@temporalio/workflow';
import type { WatchPeriodResult } from '../../shared/usage';
import { describeFailure, failureType } from '../failures';
import type { StoreInfo } from '../../shared/types';
import { watchStub } from '../activity-stubs';
import { iso } from '../render';
import type { Run, Transition } from '../run';
import { storeGone, storeNotConnected } from './connection';
import { driftCheck } from './drift';
import { applyWatchedUsage, startWatch, usageWatchInput, watchFailed, watchesUsage } from './usage';

/** Attempted-use checks per `watchPeriod` activity (6 × 15 min = 90 min by default): what status may lag behind. */
const WATCH_SLICE_CHECKS = 6;

/** Latest DeletionDate of the keys still expected to be deleted: what the run waits for. */
export function latestDeletionDate(run: Run): number | undefined {
  const dates = run.ledger.pendingDeletionDates();
  return dates.length ? Math.max(...dates) : undefined;
}

/** Whether the wait watches a CloudHSM store's connection: only while KMS still has its keys' material to delete. */
function watchesConnection(run: Run): boolean {
  return run.state.store?.type === 'AWS_CLOUDHSM' && !run.state.proceedDisconnected && !run.state.storeDeleted && run.ledger.awaitingDeletion().length > 0;
}

/** A connection check saw the store not CONNECTED (or gone): the same decision whichever watcher saw it. */
function connectionLost(run: Run, seen: { outcome: string; store?: StoreInfo; lastSeenConnectedAt?: number }): Promise<void> {
  if (seen.outcome === 'GONE') return storeGone(run, 'a connection check');
  const store = (seen.store ?? run.state.store) as StoreInfo;
  run.state.store = store;
  if (seen.lastSeenConnectedAt !== undefined) run.state.lastSeenConnectedAt = Math.max(run.state.lastSeenConnectedAt ?? 0, seen.lastSeenConnectedAt);
  return storeNotConnected(run, store, run.state.lastSeenConnectedAt);
}

/**
 * Waits until `until`. While a CloudHSM store holds keys awaiting deletion, the wait is one long
 * activity that checks the connection every `connectionCheckInterval` (one DescribeCustomKeyStores
 * each, heartbeats only: no history per check), so a store that drops its connection between two daily
 * drift scans is noticed within minutes, and the report can say since when it may have been down. When the
 * run watches usage (`where` names the period), the same activity also reads CloudTrail every
 * `usageCheckInterval` for attempted use (see {@link watchUsageUntil}).
 */
export async function waitWatchingStore(run: Run, until: number, summary: string, usage?: { where: string; connection?: boolean }): Promise<void> {
  const connection = usage?.connection ?? true;
  if (usage && usageWatchInput(run)) return watchUsageUntil(run, until, summary, usage.where, connection);
  if (connection && watchesConnection(run)) {
    const poll = run.cfg.timing.connectionCheckIntervalMs;
    const seen = await run.attempt('watch store connection', () =>
      watchStub(until - Date.now(), poll).watchStore.executeWithOptions({ summary }, [
        { customKeyStoreId: run.cfg.customKeyStoreId, untilMs: until, pollIntervalMs: poll },
      ]),
    );
    if (seen.outcome !== 'UNTIL') return connectionLost(run, seen);
    run.markConnected(seen.lastSeenConnectedAt ?? Date.now());
  }
  // The watcher ends by the worker's clock; the workflow's clock may be a moment behind.
  if (Date.now() < until) await sleep(until - Date.now(), { summary });
}

/**
 * The wait as one `watchPeriod` activity that checks the connection (CloudHSM, when asked) and CloudTrail
 * inside it: a check every few minutes through a 30-day window costs heartbeats, not history. It comes back
 * early only for a decision: KEY_IN_USE (blocked here, then the wait goes on), a lost connection (the usual
 * blocker), or a failed CloudTrail check (retry, or proceed without the watch).
 */
async function watchUsageUntil(run: Run, until: number, summary: string, where: string, connection: boolean): Promise<void> {
  for (;;) {
    const usage = usageWatchInput(run);
    if (!usage) return waitWatchingStore(run, until, summary, { where, connection }); // an operator turned the watch off
    const remaining = until - Date.now();
    if (remaining <= 0) return;
    // Each activity watches a slice of the wait, so status shows the checks' progress at least that often.
    const sliceEnd = Math.min(until, Date.now() + WATCH_SLICE_CHECKS * usage.intervalMs);
    const watchConnection = connection && watchesConnection(run);
    const poll = run.cfg.timing.connectionCheckIntervalMs;
    let seen: WatchPeriodResult;
    try {
      seen = await watchStub(sliceEnd - Date.now(), Math.max(watchConnection ? poll : 0, usage.intervalMs)).watchPeriod.executeWithOptions({ summary }, [
        { customKeyStoreId: run.cfg.customKeyStoreId, untilMs: sliceEnd, ...(watchConnection ? { connection: { pollIntervalMs: poll } } : {}), usage },
      ]);
    } catch (err) {
      if (err instanceof ContinueAsNew || run.isCancelOfThisRun(err)) throw err;
      if (failureType(err) === 'AttemptedUseCheckFailed') {
        await watchFailed(run, where, err);
        continue;
      }
      const error = describeFailure(err);
      run.state.lastError = `watch: ${error}`;
      await run.block({ kind: 'STEP_FAILED', step: 'watch', error, message: `watch failed: ${error}`, allowedActions: ['retry'] });
      continue;
    }
    await applyWatchedUsage(run, seen, where);
    if (seen.outcome === 'NOT_CONNECTED' || seen.outcome === 'GONE') return connectionLost(run, seen);
    if (watchConnection && seen.lastSeenConnectedAt !== undefined) run.markConnected(seen.lastSeenConnectedAt);
    if (seen.outcome === 'UNTIL' && sliceEnd >= until) {
      if (Date.now() < until) await sleep(until - Date.now(), { summary });
      return;
    }
    await run.continueAsNewIfSuggested();
  }
}

/**
 * WAITING: until the latest DeletionDate, with connection checks, a daily drift scan and, when the run
 * watches usage, a CloudTrail check for attempted use of the keys pending deletion.
 */
export async function waiting(run: Run): Promise<Transition> {
  const driftEvery = run.cfg.timing.driftCheckIntervalMs;
  if (watchesUsage(run)) startWatch(run, run.state.scheduling?.startedAt ?? Date.now());
  for (;;) {
    const latest = latestDeletionDate(run);
    if (latest === undefined || Date.now() >= latest) return { to: 'VERIFYING' };
    run.state.nextDriftCheckAt ??= Date.now() + driftEvery;
    const wake = Math.min(latest, run.state.nextDriftCheckAt);
    run.progress({ what: wake < latest ? 'Drift check' : 'Verify that KMS deleted the keys', at: wake });
    const watching = watchesUsage(run);
    const summary = `Waiting period until ${iso(latest)} (next drift check ${iso(wake)})${watching ? '; CloudTrail watched for attempted use' : ''}`;
    await waitWatchingStore(run, wake, summary, watching ? { where: 'waiting period' } : undefined);
    const now = Date.now();
    if (now >= run.state.nextDriftCheckAt && now < latest) {
      run.state.nextDriftCheckAt = now + driftEvery;
      const changed = await driftCheck(run);
      if (changed) return changed;
      await run.continueAsNewIfSuggested();
    }
  }
}
