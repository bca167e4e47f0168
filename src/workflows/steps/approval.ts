import { condition } from '@temporalio/workflow';
import { iso } from '../render';
import type { Run, Transition } from '../run';
import { afterApproval } from './quiet-period';

/** The moment after which no approval is accepted (workflow time: replay-safe). */
export function approvalDeadline(run: Run): number {
  return run.state.startedAt + run.cfg.approvalTimeoutMs;
}

/** AWAITING_APPROVAL: the `approve` update (validated in handlers.ts) or the deadline, whichever comes first. */
export async function awaitingApproval(run: Run): Promise<Transition> {
  const deadline = approvalDeadline(run);
  await condition(() => run.state.approvedBy !== undefined, Math.max(1, deadline - Date.now()), { summary: `Awaiting approval until ${iso(deadline)}` });
  // An approval the validator accepted came before the deadline, even if the timer fired in the same activation.
  if (run.state.approvedBy !== undefined) return { to: afterApproval(run) };
  run.state.decisions.push({ what: 'approval-timeout', by: 'workflow', at: Date.now(), detail: `no approval by ${iso(deadline)}` });
  run.state.notes.push('No approval arrived in time; nothing was changed in KMS.');
  run.state.endReason = 'approval timed out';
  return { to: 'CANCELLED' };
}
