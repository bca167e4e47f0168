import { CancellationScope, log, workflowInfo } from '@temporalio/workflow';
import { quick } from './activity-stubs';
import type { DecommissionReport } from '../shared/types';
import type { Run } from './run';

/**
 * Ends the run with its report. A cancelled decommission closes as **Canceled** in Temporal, so the Web
 * UI's list and `temporal workflow list` show the outcome at a glance (a Completed status would read as
 * "decommissioned"). Temporal closes a run as Canceled only after a cancel request, so a run cancelled
 * through the `cancel` update (or whose approval timed out) requests its own cancellation first. A
 * Canceled run carries no result: the `report` query serves it (the client's `getReport` does that).
 */
export async function finish(run: Run, report: DecommissionReport): Promise<DecommissionReport> {
  run.finalReport = report;
  if (report.outcome !== 'CANCELLED') return report;
  if (!run.temporalCancelRequested()) {
    const { workflowId, runId } = workflowInfo();
    try {
      // The server refuses a run's RequestCancelExternalWorkflowExecution of itself: the worker's client asks.
      // Not cancellable: the cancel request it causes must not cut off its own completion.
      await CancellationScope.nonCancellable(() =>
        quick.closeAsCancelled.executeWithOptions({ summary: 'Close the run as Canceled (the decommission was cancelled)' }, [{ workflowId, runId }]),
      );
    } catch (err) {
      if (!run.temporalCancelRequested()) {
        log.warn('could not close the run as Canceled; it completes with its report instead', { error: String(err) });
        return report;
      }
    }
  }
  // Rejects with CancelledFailure as soon as the cancel request is delivered: the run closes as Canceled.
  await CancellationScope.current().cancelRequested;
  return report;
}
