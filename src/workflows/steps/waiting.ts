import { sleep } from '@temporalio/workflow';
import type { StoreInfo } from '../../shared/types';
import { watchStub } from '../activity-stubs';
import { iso } from '../render';
import type { Run, Transition } from '../run';
import { storeGone, storeNotConnected } from './connection';
import { driftCheck } from './drift';
import { checkAttemptedUseIfDue, nextUsageCheckAt, startWatch, watchesUsage } from './usage';

/** Latest DeletionDate of the keys still expected to be deleted: what the run waits for. */
export function latestDeletionDate(run: Run): number | undefined {
  const dates = run.ledger.pendingDeletionDates();
  return dates.length ? Math.max(...dates) : undefined;
}

/**
 * Waits until `until`. While a CloudHSM store holds keys awaiting deletion, the wait is one long
 * activity that checks the connection every `connectionCheckInterval` (one DescribeCustomKeyStores
 * each, heartbeats only: no history per check), so a store that drops its connection between two daily
 * drift scans is noticed within minutes, and the report can say since when it may have been down.
 */
export async function waitWatchingStore(run: Run, until: number, summary: string): Promise<void> {
  const watch =
    run.state.store?.type === 'AWS_CLOUDHSM' && !run.state.proceedDisconnected && !run.state.storeDeleted && run.ledger.awaitingDeletion().length > 0;
  if (watch) {
    const poll = run.cfg.timing.connectionCheckIntervalMs;
    const seen = await run.attempt('watch store connection', () =>
      watchStub(until - Date.now(), poll).watchStore.executeWithOptions({ summary }, [
        { customKeyStoreId: run.cfg.customKeyStoreId, untilMs: until, pollIntervalMs: poll },
      ]),
    );
    if (seen.outcome === 'GONE') return storeGone(run, 'a connection check');
    if (seen.outcome === 'NOT_CONNECTED') {
      const store = (seen.store ?? run.state.store) as StoreInfo;
      run.state.store = store;
      if (seen.lastSeenConnectedAt !== undefined) run.state.lastSeenConnectedAt = Math.max(run.state.lastSeenConnectedAt ?? 0, seen.lastSeenConnectedAt);
      return storeNotConnected(run, store, run.state.lastSeenConnectedAt);
    }
    run.markConnected(seen.lastSeenConnectedAt ?? Date.now());
  }
  // The watcher ends by the worker's clock; the workflow's clock may be a moment behind.
  if (Date.now() < until) await sleep(until - Date.now(), { summary });
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
    const usageCheck = nextUsageCheckAt(run);
    const wake = Math.min(latest, run.state.nextDriftCheckAt, usageCheck ?? Infinity);
    const what = wake === latest ? 'Verify that KMS deleted the keys' : wake === usageCheck ? 'Look for attempted use in CloudTrail' : 'Drift check';
    run.progress({ what, at: wake });
    const summary =
      usageCheck === undefined
        ? `Waiting period until ${iso(latest)} (next drift check ${iso(wake)})`
        : `Waiting period until ${iso(latest)} (next: ${what} at ${iso(wake)})`;
    await waitWatchingStore(run, wake, summary);
    if (Date.now() < latest && watchesUsage(run)) {
      await checkAttemptedUseIfDue(run, 'waiting period');
      // A check every few minutes adds history much faster than a daily drift scan: keep it small.
      await run.continueAsNewIfSuggested();
    }
    const now = Date.now();
    if (now >= run.state.nextDriftCheckAt && now < latest) {
      run.state.nextDriftCheckAt = now + driftEvery;
      const changed = await driftCheck(run);
      if (changed) return changed;
      await run.continueAsNewIfSuggested();
    }
  }
}
