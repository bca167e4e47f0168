import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DecommissionClient } from '../../../src/client';
import { workflowIdFor } from '../../../src/shared/messages';
import { DecommissionPhaseAttribute } from '../../../src/shared/search-attributes';
import { temporalAddress } from '../../support/harness';
import { sleep } from './audit';

/** A Temporal client (and the decommission client on `taskQueue`) for `address` (default: the jest run's dev server). */
export async function connectClients(
  taskQueue: string,
  address = temporalAddress(),
): Promise<{ temporal: Client; decommissions: DecommissionClient; close(): Promise<void> }> {
  const connection = await Connection.connect({ address });
  const temporal = new Client({ connection, namespace: 'default' });
  return { temporal, decommissions: new DecommissionClient({ client: temporal, taskQueue }), close: () => connection.close() };
}

/**
 * The run's phase from its `DecommissionPhase` search attribute, through DescribeWorkflowExecution.
 * Unlike the status query this needs no worker, so it works while the test has the worker killed.
 */
export async function phaseOf(temporal: Client, storeId: string): Promise<string | undefined> {
  const description = await temporal.workflow.getHandle(workflowIdFor(storeId)).describe();
  return description.typedSearchAttributes.get(DecommissionPhaseAttribute);
}

export async function waitForPhaseAttr(temporal: Client, storeId: string, phases: string[], timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    try {
      last = await phaseOf(temporal, storeId);
      if (last && phases.includes(last)) return last;
    } catch {
      // The server may be restarting; keep polling.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for phase ${phases.join('|')} of ${storeId}; last seen ${last}`);
    await sleep(100);
  }
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** What a run's history says about its activities. */
export interface HistoryStats {
  runs: number;
  events: number;
  activities: number;
  /** Activity attempts beyond the first (retries after crashes, timeouts or transient errors). */
  retriedAttempts: number;
  /** Retried attempts per activity type. */
  retriedByType: Record<string, number>;
  maxAttempt: number;
  /** Activities that ended failed or timed out: their retries were exhausted or the error was non-retryable. */
  finalFailures: { activityType: string; event: 'ActivityTaskFailed' | 'ActivityTaskTimedOut'; message?: string }[];
  workflowTaskFailures: number;
}

/** Reads every run of a workflow (following continue-as-new back to the first) and summarises its activities. */
export async function historyStats(temporal: Client, storeId: string): Promise<HistoryStats> {
  const workflowId = workflowIdFor(storeId);
  const stats: HistoryStats = {
    runs: 0,
    events: 0,
    activities: 0,
    retriedAttempts: 0,
    retriedByType: {},
    maxAttempt: 0,
    finalFailures: [],
    workflowTaskFailures: 0,
  };
  let runId: string | undefined;
  for (;;) {
    const history = await temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: HistoryEvent[] = history.events ?? [];
    stats.runs++;
    stats.events += events.length;
    const types = new Map<string, string>();
    for (const e of events) {
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) {
        stats.activities++;
        types.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      }
      if (e.activityTaskStartedEventAttributes) {
        const attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
        stats.retriedAttempts += attempt - 1;
        if (attempt > 1) {
          const type = types.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? '?';
          stats.retriedByType[type] = (stats.retriedByType[type] ?? 0) + attempt - 1;
        }
        stats.maxAttempt = Math.max(stats.maxAttempt, attempt);
      }
      if (e.activityTaskFailedEventAttributes) {
        const a = e.activityTaskFailedEventAttributes;
        stats.finalFailures.push({
          activityType: types.get(String(a.scheduledEventId)) ?? '?',
          event: 'ActivityTaskFailed',
          message: a.failure?.message ?? undefined,
        });
      }
      if (e.activityTaskTimedOutEventAttributes) {
        const a = e.activityTaskTimedOutEventAttributes;
        stats.finalFailures.push({
          activityType: types.get(String(a.scheduledEventId)) ?? '?',
          event: 'ActivityTaskTimedOut',
          message: a.failure?.message ?? undefined,
        });
      }
      if (e.workflowTaskFailedEventAttributes) stats.workflowTaskFailures++;
    }
    const previous = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
    if (!previous) return stats;
    runId = previous;
  }
}
