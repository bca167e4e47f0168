import { ApplicationFailure, patched, workflowInfo } from '@temporalio/workflow';
import type { DecommissionInput, DecommissionReport } from '../shared/types';
import { decommissionCustomKeyStore as runPhaseMachine } from './decommission';
import { decommissionCustomKeyStoreV0_1 } from './legacy/v0_1/decommission';

/**
 * Marker recorded by every run of the phase-machine workflow (0.2.0 on). A history without it was
 * started by 0.1.0, whose command order differs everywhere: such runs replay (and finish) on a frozen
 * copy of the 0.1.0 code instead of breaking with a non-determinism error after a deploy.
 */
export const PHASE_MACHINE_PATCH = 'decommission-phase-machine-v2';

/** Continue-as-new state written by 0.1.0 has no schema version: that chain stays on the 0.1.0 code. */
function startedBy010(resume: unknown): boolean {
  return typeof resume === 'object' && resume !== null && !('schemaVersion' in resume);
}

/**
 * Whether continuation state comes from this chain's own continue-as-new. Temporal also sets
 * `continuedFromExecutionRunId` on cron runs and on retries of a workflow started with a retry policy, and both
 * get the arguments of the original start: a forged start with a cron schedule or a retry policy would
 * otherwise hand its own "carried state" to its second run. State written by 0.4.0 or later also names the run
 * that wrote it, which must be the run this one continues from.
 */
function fromOwnContinueAsNew(resume: unknown): boolean {
  const info = workflowInfo();
  if (!info.continuedFromExecutionRunId || info.cronSchedule || info.attempt > 1) return false;
  const writtenBy = typeof resume === 'object' && resume !== null ? (resume as { writtenByRunId?: unknown }).writtenByRunId : undefined;
  return writtenBy === undefined || writtenBy === info.continuedFromExecutionRunId;
}

/**
 * The `decommissionCustomKeyStore` workflow type. Routes each run to the code that started it; new
 * runs always take the phase machine.
 */
export async function decommissionCustomKeyStore(input: DecommissionInput, resume?: unknown, ...rest: unknown[]): Promise<DecommissionReport> {
  // Continuation state is trusted only from the run's own continue-as-new: passed by hand to a raw
  // `temporal workflow start`, it would skip validation, the one-run-per-store check and approval.
  if (resume !== undefined && resume !== null && !fromOwnContinueAsNew(resume)) {
    throw ApplicationFailure.create({
      type: 'InvalidDecommissionInput',
      message:
        'Invalid decommission input, nothing was changed: a decommission takes one argument (the request); continuation state is only accepted from its own continue-as-new',
      nonRetryable: true,
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  if (startedBy010(resume) || !patched(PHASE_MACHINE_PATCH)) return decommissionCustomKeyStoreV0_1(input as any, resume as any, ...(rest as any[])) as any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return runPhaseMachine(input, resume as any, ...(rest as any[]));
}
