/**
 * `temporal workflow reset` starts a new run that replays the old one's history up to a chosen point, decisions
 * included, and then goes on without the people who made them: a reset to just after an approval would schedule
 * every key again even after an operator's cancel had restored them. Activities that delete, disable or tear down
 * carry the run's original run ID; a reset run's own run ID differs, and those activities refuse it.
 */
export interface ResetGuarded {
  /** `workflowInfo().originalExecutionRunId` of the run that scheduled the activity (0.4.0 on). */
  originalRunId?: string;
}

/** The failure type of an activity refused because its run was reset. */
export const RESET_RUN_REFUSED = 'ResetRunRefused';
