import { resetGuard } from '../portal';
import { CancellationScope, ContinueAsNew } from '@temporalio/workflow';
import type { DisableKeysResult } from '../../shared/usage';
import { mutating } from '../activity-stubs';
import { describeFailure, failureDetails } from '../failures';
import { count, iso } from '../render';
import type { Run, Transition } from '../run';
import type { UsageState } from '../run-state';
import { startWatch } from './usage';
import { waitWatchingStore } from './waiting';

/** Keys per disableKeys activity: DisableKey is paced under 5/s, so about 100 s each. */
const DISABLE_BATCH = 500;

/** The step after the quiet period (or instead of it): scheduling. */
export function afterApproval(run: Run): 'CONNECTING' | 'QUIET_PERIOD' | 'SCHEDULING' {
  if (run.needsConnect()) return 'CONNECTING';
  return quietPeriodDue(run) ? 'QUIET_PERIOD' : 'SCHEDULING';
}

/** The request asked for a quiet period that has not ended yet. */
export function quietPeriodDue(run: Run): boolean {
  return run.usage !== undefined && run.cfg.quietPeriodMs !== undefined && run.usage.quiet?.endedAt === undefined;
}

/**
 * QUIET_PERIOD (the "scream test"): DisableKey every Enabled key of the store, recording that this run
 * disabled it, then wait `quietPeriod` while CloudTrail is watched for calls that fail with
 * DisabledException. Like scheduling, the loop follows the ledger (each batch's keys are marked before the
 * call), so a lost result or a cancel mid-batch leaves every key this run may have disabled in the
 * rollback's scope, which re-enables exactly those.
 */
export async function quietPeriod(run: Run): Promise<Transition> {
  const usage = run.usage as UsageState;
  const quiet = (usage.quiet ??= { startedAt: Date.now(), disabled: 0 });
  // Attempted use counts from the moment the first key may be disabled.
  startWatch(run, quiet.startedAt);
  for (;;) {
    const todo = run.ledger.toDisable();
    if (todo.length === 0) break;
    const keyIds = todo.slice(0, DISABLE_BATCH).map((e) => e.keyId);
    run.progress({ what: `Quiet period: disable ${count(keyIds.length)} of ${count(todo.length)} Enabled key(s) left` });
    if (CancellationScope.current().consideredCancelled) await CancellationScope.current().cancelRequested;
    run.ledger.markDisabling(keyIds);
    let result: DisableKeysResult;
    try {
      result = await mutating.disableKeys.executeWithOptions(
        { summary: `Quiet period: DisableKey ${count(keyIds.length)} key(s) (their state before is recorded)` },
        [{ customKeyStoreId: run.cfg.customKeyStoreId, keyIds, ...resetGuard() }],
      );
      run.state.lastError = undefined;
    } catch (err) {
      // A failed or cancelled batch says what it disabled and what it sent: exactly those are in the rollback's
      // scope; the keys it never reached are not (and are sent again on retry).
      const partial = failureDetails(err)[0] as DisableKeysResult | undefined;
      if (partial?.outcomes) run.ledger.applyDisableFailure(keyIds, partial.outcomes, partial.sent ?? []);
      if (err instanceof ContinueAsNew || run.isCancelOfThisRun(err)) throw err;
      const error = describeFailure(err);
      run.state.lastError = `disable keys: ${error}`;
      await run.block({ kind: 'STEP_FAILED', step: 'disable keys', error, message: `disable keys failed: ${error}`, allowedActions: ['retry'] });
      continue;
    }
    run.ledger.applyDisable(result.outcomes);
    const unanswered = keyIds.filter((id) => run.ledger.get(id)?.quiet === 'attempted');
    if (unanswered.length > 0) throw new Error(`disableKeys returned no outcome for ${unanswered.length} key(s): ${unanswered.slice(0, 5).join(', ')}`);
    quiet.disabled = run.ledger.disabledByRun().length;
    run.publish();
  }
  quiet.endsAt ??= Date.now() + (run.cfg.quietPeriodMs as number);
  const endsAt = quiet.endsAt;
  if (Date.now() < endsAt) {
    run.progress({ what: 'Quiet period ends: schedule deletion', at: endsAt });
    // The keys are not pending deletion yet: the store's connection does not matter until scheduling.
    await waitWatchingStore(run, endsAt, `Quiet period: ${count(quiet.disabled)} key(s) disabled until ${iso(endsAt)}, CloudTrail watched for attempted use`, {
      where: 'quiet period',
      connection: false,
    });
  }
  // The watch carries on through the waiting period: its next check re-reads the end of this one.
  quiet.endedAt = Date.now();
  run.state.notes.push(
    `Quiet period: ${count(quiet.disabled)} key(s) were disabled from ${iso(quiet.startedAt)} to ${iso(quiet.endedAt)}; ${count(usage.watch.findings)} attempted use(s) seen in CloudTrail.`,
  );
  return { to: 'SCHEDULING' };
}
