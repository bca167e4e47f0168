import { Context } from '@temporalio/activity';

export interface CloseAsCancelledInput {
  workflowId: string;
  runId: string;
}

export function createRunStatusActivities() {
  return {
    /**
     * Asks Temporal to cancel the calling run, so that a decommission cancelled through the `cancel`
     * update closes with status Canceled (the server refuses a workflow's request to cancel itself, so
     * it goes through the worker's client). Idempotent: a second request for the same run is harmless.
     */
    async closeAsCancelled(input: CloseAsCancelledInput): Promise<void> {
      await Context.current().client.workflow.getHandle(input.workflowId, input.runId).cancel();
    },
  };
}
