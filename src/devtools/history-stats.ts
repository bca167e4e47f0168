import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

/** What a run costs Temporal: the figures the 20,000-key limits are about. */
export interface HistoryStats {
  events: number;
  /** Server-reported history size in bytes. */
  bytes: number;
  largestPayloadBytes: number;
  largestPayloadEventType?: string;
  continuedAsNew: number;
}

type Payload = temporal.api.common.v1.IPayload;

function payloadSize(p: Payload): number {
  let size = p.data?.length ?? 0;
  for (const [key, value] of Object.entries(p.metadata ?? {})) size += key.length + (value?.length ?? 0);
  return size;
}

/** Every payload inside an event, wherever the event type keeps them. */
function* payloadsOf(value: unknown, depth = 0): Generator<Payload> {
  if (!value || typeof value !== 'object' || depth > 6) return;
  if (Array.isArray(value)) {
    for (const item of value) yield* payloadsOf(item, depth + 1);
    return;
  }
  const record = value as Record<string, unknown>;
  if (record.data instanceof Uint8Array && 'metadata' in record) {
    yield record as Payload;
    return;
  }
  for (const child of Object.values(record)) yield* payloadsOf(child, depth + 1);
}

/** Walks every run of a workflow chain (following continue-as-new) and totals its history. */
export async function historyStats(
  handle: WorkflowHandle,
  client: { workflow: { getHandle(id: string, runId?: string): WorkflowHandle } },
): Promise<HistoryStats> {
  const stats: HistoryStats = { events: 0, bytes: 0, largestPayloadBytes: 0, continuedAsNew: 0 };
  let runId: string | undefined = (await handle.describe()).raw.workflowExecutionInfo?.firstRunId ?? undefined;
  const seen = new Set<string>();
  while (runId && !seen.has(runId)) {
    seen.add(runId);
    const run = client.workflow.getHandle(handle.workflowId, runId);
    const description = await run.describe();
    stats.bytes += Number(description.historySize ?? 0);
    const history = await run.fetchHistory();
    let next: string | undefined;
    for (const event of history.events ?? []) {
      stats.events++;
      for (const payload of payloadsOf(event)) {
        const size = payloadSize(payload);
        if (size > stats.largestPayloadBytes) {
          stats.largestPayloadBytes = size;
          stats.largestPayloadEventType = Object.keys(event).find((k) => k.endsWith('EventAttributes') && (event as Record<string, unknown>)[k]);
        }
      }
      const can = event.workflowExecutionContinuedAsNewEventAttributes;
      if (can?.newExecutionRunId) {
        stats.continuedAsNew++;
        next = can.newExecutionRunId;
      }
    }
    runId = next;
  }
  return stats;
}
