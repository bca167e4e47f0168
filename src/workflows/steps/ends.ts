import { ApplicationFailure } from '@temporalio/workflow';
import { settleNotifications } from '../portal';
import type { Run, Transition } from '../run';

/** COMPLETED: every key deleted, the store disconnected and deleted. */
export async function completed(run: Run): Promise<Transition> {
  return { end: run.report('COMPLETED') };
}

/** DRY_RUN_COMPLETE: the plan; nothing was changed. */
export async function dryRunComplete(run: Run): Promise<Transition> {
  return { end: run.report('DRY_RUN_COMPLETE') };
}

/** CANCELLED: by a person, by Temporal's cancel, or because no approval came in time. */
export async function cancelled(run: Run): Promise<Transition> {
  const cancel = run.state.cancel;
  if (!run.changedKeys()) {
    run.state.notes.push(
      run.state.connectRequested
        ? `Cancelled before any key was scheduled: no key was changed; this run asked KMS to connect the store and left it in whatever state that request left it (last read: ${run.state.store?.connectionState ?? 'unknown'}).`
        : 'Cancelled before any key was scheduled: nothing was changed in KMS.',
    );
  } else if (!run.ledger.all().some((e) => e.rolledBack !== undefined)) {
    run.state.notes.push('No key scheduled by this run was still pending deletion when the cancel took effect: there was nothing to restore.');
  }
  const reason = cancel ? `${cancel.reason} (by ${cancel.by})` : (run.state.endReason ?? 'cancelled');
  return { end: run.report('CANCELLED', reason) };
}

/**
 * FAILED: a step failed before any key was changed (fail closed). The workflow fails with the cause's
 * type (e.g. AccessDeniedException, ExpectedKeyCountMismatch) and says that nothing was changed.
 */
export async function failed(run: Run): Promise<Transition> {
  const failure = run.state.failure ?? { type: 'DecommissionFailed', message: run.state.lastError ?? 'failed' };
  await settleNotifications(run);
  throw ApplicationFailure.create({ type: failure.type, message: failure.message, nonRetryable: true });
}
