import { ApplicationFailure, Context } from '@temporalio/activity';
import { RESET_RUN_REFUSED, type ResetGuarded } from '../shared/reset-guard';

/**
 * Refuses the activity when its run was reset (its run ID is not the original one the workflow recorded): a reset
 * run replays decisions without their deciders, so it never deletes, disables or tears anything down. Restoring
 * keys (the rollback) stays allowed: that is how such a run is ended.
 */
export function refuseResetRun(input: ResetGuarded): void {
  if (input.originalRunId === undefined) return;
  const runId = Context.current().info.workflowExecution?.runId;
  if (runId === undefined || runId === input.originalRunId) return;
  throw ApplicationFailure.create({
    type: RESET_RUN_REFUSED,
    nonRetryable: true,
    message: `This run was reset (run ${runId}, originally ${input.originalRunId}): a reset run replays past decisions without the people who made them, so it never schedules, disables, disconnects or deletes anything. Cancel it (the rollback restores keys) and start a new decommission.`,
  });
}
