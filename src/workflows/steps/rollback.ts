import { mutating } from '../activity-stubs';
import type { RollbackOutcome } from '../../shared/types';
import { describeFailure, failureDetails } from '../failures';
import { count } from '../render';
import { restoreTarget } from '../ledger';
import type { Run, Transition } from '../run';

/** Keys per rollbackKeys activity: 200 s at 5/s; fewer hand-offs between activities keep the rate near the quota. */
const ROLLBACK_BATCH = 1_000;
const BLOCKER_KEYS = 50;

/**
 * ROLLING_BACK: restores every key in this run's scope to its prior state (the activity reads each key
 * first, so it is idempotent and a lost response is harmless). A failure never ends the run with keys
 * still scheduled: it blocks (ROLLBACK_FAILED) until an operator fixes the cause and retries. Like
 * scheduling, the loop follows the ledger, so a different batch size replays.
 */
export async function rollingBack(run: Run): Promise<Transition> {
  for (;;) {
    const candidates = run.ledger.rollbackCandidates();
    if (candidates.length === 0) break;
    const keys = candidates.slice(0, ROLLBACK_BATCH);
    const range = `${count(keys.length)} of ${count(candidates.length)} key(s) left`;
    run.progress({ what: `Roll back: ${range}` });
    try {
      const outcomes = await mutating.rollbackKeys.executeWithOptions({ summary: `Roll back: cancel deletion and restore the prior state of ${range}` }, [
        { keys },
      ]);
      run.ledger.applyRollback(outcomes, Date.now());
      run.publish();
      const sent = new Set(keys.map((k) => k.keyId));
      const unanswered = run.ledger.rollbackCandidates().filter((k) => sent.has(k.keyId));
      // The loop follows the ledger: a result without an outcome for a key would send it again forever.
      if (unanswered.length > 0)
        throw new Error(
          `rollbackKeys returned no outcome for ${unanswered.length} key(s): ${unanswered
            .slice(0, 5)
            .map((k) => k.keyId)
            .join(', ')}`,
        );
    } catch (err) {
      // What the failed activity did finish is recorded before blocking: the retry only sees it as "already restored".
      const finished = failureDetails(err)[0];
      if (Array.isArray(finished)) run.ledger.applyRollback(finished as RollbackOutcome[], Date.now());
      const left = run.ledger.rollbackCandidates();
      if (left.length === 0) continue;
      const error = describeFailure(err);
      run.state.lastError = `rollback: ${error}`;
      await run.block({
        kind: 'ROLLBACK_FAILED',
        message: `Restoring keys failed: ${error}. ${count(left.length)} key(s) are not restored yet, and a key whose deletion is still scheduled will be deleted at its DeletionDate: ${left
          .slice(0, 5)
          .map((k) => k.keyId)
          .join(', ')}${left.length > 5 ? ', …' : ''}. Fix the cause (e.g. the kms:CancelKeyDeletion permission), then retry.`,
        allowedActions: ['retry'],
        keyIds: left.slice(0, BLOCKER_KEYS).map((k) => k.keyId),
        keyCount: left.length,
        error,
      });
    }
  }
  const c = run.ledger.counts();
  run.state.notes.push(
    `Rollback restored ${count(c.rolledBack)} key(s) to their state before this run; ${count(c.deleted)} key(s) were already deleted by KMS and cannot be restored.`,
  );
  const differs = run.ledger.all().filter((e) => e.rolledBack === 'NOT_PENDING' && e.finalState !== undefined && e.finalState !== restoreTarget(e));
  if (differs.length > 0) {
    run.state.notes.push(
      `${count(differs.length)} key(s) are not pending deletion but not in their state before this run either, and were left as they are (this run cannot tell its own lost call from someone else's change): ${differs
        .slice(0, 10)
        .map((e) => `${e.keyId} reads ${e.finalState}, was ${restoreTarget(e)}`)
        .join('; ')}${differs.length > 10 ? '; …' : ''}.`,
    );
  }
  return { to: 'CANCELLED' };
}
