import { resetGuard } from '../portal';
import { CancellationScope } from '@temporalio/workflow';
import type { ScheduleKeysResult } from '../../activities';
import { mutating } from '../activity-stubs';
import { failureDetails } from '../failures';
import { count } from '../render';
import type { Run, Transition } from '../run';

/** Keys per scheduleKeys activity: about 35 s at 15/s, and ~0.012 history events per key. */
const SCHEDULE_BATCH = 500;

/**
 * SCHEDULING: ScheduleKeyDeletion for every key still to schedule, in batches. Each batch's keys are
 * marked as attempted before the call, so a cancel (or a lost result) leaves them in the rollback's
 * scope. The loop follows the ledger, not precomputed slices: its commands depend on recorded results
 * only, so a change of batch size cannot break the replay of a run in flight.
 */
export async function scheduling(run: Run): Promise<Transition> {
  run.state.scheduling = run.state.scheduling?.finishedAt === undefined && run.state.scheduling ? run.state.scheduling : { startedAt: Date.now() };
  for (;;) {
    const todo = run.ledger.toSchedule();
    if (todo.length === 0) break;
    const keyIds = todo.slice(0, SCHEDULE_BATCH).map((e) => e.keyId);
    const total = run.ledger.counts().scheduled + todo.length;
    const done = total - todo.length;
    const range = `keys ${count(done + 1)}–${count(done + keyIds.length)} of ${count(total)}`;
    run.progress({ what: `Schedule deletion: ${range}` });
    // A batch never starts once a cancel is in: its keys would join the rollback's scope for nothing.
    if (CancellationScope.current().consideredCancelled) await CancellationScope.current().cancelRequested;
    run.ledger.markAttempted(keyIds);
    let result: ScheduleKeysResult;
    try {
      result = await run.attempt('schedule', () =>
        mutating.scheduleKeys.executeWithOptions({ summary: `Schedule deletion: ${range} (${run.cfg.pendingWindowInDays}-day window)` }, [
          { customKeyStoreId: run.cfg.customKeyStoreId, keyIds, pendingWindowInDays: run.cfg.pendingWindowInDays, ...resetGuard() },
        ]),
      );
    } catch (err) {
      // A cancelled batch reports what it did schedule before it stopped: record it for the rollback and report.
      const partial = failureDetails(err)[0] as ScheduleKeysResult | undefined;
      if (partial?.outcomes) run.ledger.applySchedule(partial.outcomes, partial.notInStore ?? [], Date.now());
      throw err;
    }
    run.ledger.applySchedule(result.outcomes, result.notInStore, Date.now());
    const unanswered = keyIds.filter((id) => run.ledger.get(id)?.scheduledBy === 'not-scheduled' && run.ledger.get(id)?.confirmedDeletedAt === undefined);
    // The loop follows the ledger: a result without an outcome for a key would send it again forever.
    if (unanswered.length > 0) throw new Error(`scheduleKeys returned no outcome for ${unanswered.length} key(s): ${unanswered.slice(0, 5).join(', ')}`);
    if (result.notInStore.length)
      run.state.notes.push(
        `${result.notInStore.length} key(s) no longer belonged to the store and were not scheduled: ${result.notInStore.slice(0, 10).join(', ')}`,
      );
    run.publish();
    if (run.ledger.toSchedule().length > 0) await run.continueAsNewIfSuggested();
  }
  run.state.scheduling.finishedAt = Date.now();
  return { to: 'WAITING' };
}
