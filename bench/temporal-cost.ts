/**
 * What a decommission costs Temporal, read from the server: events and bytes of every run of its
 * continue-as-new chain, the largest payload, and activity timings from event timestamps.
 */
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { TemporalCost } from './types';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payload = temporal.api.common.v1.IPayload;

/** One run of a chain: its history and the server's size figure. */
export interface RunHistory {
  runId: string;
  events: HistoryEvent[];
  historyBytes: number;
}

/** Follows continue-as-new from the first run to the last; every history is fetched in full. */
export async function fetchChain(client: Client, workflowId: string, firstRunId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  let runId: string | undefined = firstRunId;
  while (runId && runs.length < 1_000) {
    const handle = client.workflow.getHandle(workflowId, runId);
    const [description, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
    const events: HistoryEvent[] = history.events ?? [];
    runs.push({ runId, events, historyBytes: Number(description.historySize ?? 0) });
    const next: string | null | undefined = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    runId = next ?? undefined;
  }
  return runs;
}

function payloadSize(p: Payload): number {
  let size = p.data?.length ?? 0;
  for (const [key, value] of Object.entries(p.metadata ?? {})) size += key.length + (value?.length ?? 0);
  return size;
}

function isPayload(value: Record<string, unknown>): boolean {
  return value.data instanceof Uint8Array && 'metadata' in value;
}

/** Calls `visit` for every payload list (`{ payloads: [...] }`) and lone payload in an event. */
function visitPayloads(value: unknown, visit: (payloads: Payload[]) => void, depth = 0): void {
  if (!value || typeof value !== 'object' || depth > 8 || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const item of value) visitPayloads(item, visit, depth + 1);
    return;
  }
  const record = value as Record<string, unknown>;
  if (isPayload(record)) {
    visit([record as Payload]);
    return;
  }
  if (Array.isArray(record.payloads) && record.payloads.every((p) => p && typeof p === 'object' && isPayload(p as Record<string, unknown>))) {
    visit(record.payloads as Payload[]);
    return;
  }
  for (const child of Object.values(record)) visitPayloads(child, visit, depth + 1);
}

function attributesName(event: HistoryEvent): string {
  const key = Object.keys(event).find((k) => k.endsWith('EventAttributes') && (event as Record<string, unknown>)[k]);
  return key ? key.replace(/EventAttributes$/, '') : 'unknown';
}

/** Totals of a chain; `keys` turns them into per-key figures. */
export function temporalCost(runs: readonly RunHistory[], keys: number): TemporalCost {
  let events = 0;
  let bytes = 0;
  let largest = 0;
  let largestEvent: string | undefined;
  let largestList = 0;
  const byActivity: TemporalCost['byActivity'] = {};
  for (const run of runs) {
    events += run.events.length;
    bytes += run.historyBytes;
    const typeOf = new Map<string, string>();
    for (const event of run.events) {
      const type = activityTypeOf(event, typeOf);
      if (type && event.activityTaskScheduledEventAttributes) (byActivity[type] ??= { count: 0, payloadBytes: 0 }).count++;
      visitPayloads(event, (payloads) => {
        const sizes = payloads.map(payloadSize);
        const total = sizes.reduce((a, b) => a + b, 0);
        if (type) (byActivity[type] ??= { count: 0, payloadBytes: 0 }).payloadBytes += total;
        largestList = Math.max(largestList, total);
        const max = Math.max(...sizes);
        if (max > largest) {
          largest = max;
          largestEvent = attributesName(event);
        }
      });
    }
  }
  return {
    runs: runs.length,
    historyEvents: events,
    historyBytes: bytes,
    eventsPerKey: keys > 0 ? events / keys : 0,
    bytesPerKey: keys > 0 ? bytes / keys : 0,
    largestPayloadBytes: largest,
    largestPayloadEvent: largestEvent,
    largestPayloadsBytes: largestList,
    continuedAsNew: runs.length - 1,
    byActivity,
  };
}

/** Activity type of a scheduled/completed/failed activity event (`typeOf` maps scheduled event ids within one run). */
function activityTypeOf(event: HistoryEvent, typeOf: Map<string, string>): string | undefined {
  const scheduled = event.activityTaskScheduledEventAttributes;
  if (scheduled?.activityType?.name) {
    typeOf.set(String(event.eventId), scheduled.activityType.name);
    return scheduled.activityType.name;
  }
  const ref =
    event.activityTaskCompletedEventAttributes?.scheduledEventId ??
    event.activityTaskFailedEventAttributes?.scheduledEventId ??
    event.activityTaskStartedEventAttributes?.scheduledEventId;
  return ref !== undefined && ref !== null ? typeOf.get(String(ref)) : undefined;
}

/** First scheduling to last completion of an activity type across the chain (epoch ms), from event timestamps. */
export function activitySpan(runs: readonly RunHistory[], activityType: string): { start: number; end: number; count: number; handoffMs: number } | undefined {
  let start: number | undefined;
  let end: number | undefined;
  let count = 0;
  // Time between one activity's completion and the next one's scheduling: the workflow task in between.
  let handoffMs = 0;
  for (const run of runs) {
    const scheduled = new Set<string>();
    for (const event of run.events) {
      const sched = event.activityTaskScheduledEventAttributes;
      if (sched?.activityType?.name === activityType) {
        scheduled.add(String(event.eventId));
        if (end !== undefined) handoffMs += tsToMs(event.eventTime) - end;
        start ??= tsToMs(event.eventTime);
        count++;
      }
      const done = event.activityTaskCompletedEventAttributes;
      if (done && scheduled.has(String(done.scheduledEventId))) end = tsToMs(event.eventTime);
    }
  }
  return start !== undefined && end !== undefined ? { start, end, count, handoffMs } : undefined;
}

/** Sums several chains (e.g. the ten concurrent runs) into one figure per run. */
export function averageCost(costs: readonly TemporalCost[]): TemporalCost {
  const n = Math.max(1, costs.length);
  const sum = (f: (c: TemporalCost) => number): number => costs.reduce((a, c) => a + f(c), 0);
  const largest = costs.reduce<TemporalCost | undefined>((a, c) => (!a || c.largestPayloadBytes > a.largestPayloadBytes ? c : a), undefined);
  return {
    runs: sum((c) => c.runs) / n,
    historyEvents: sum((c) => c.historyEvents) / n,
    historyBytes: sum((c) => c.historyBytes) / n,
    eventsPerKey: sum((c) => c.eventsPerKey) / n,
    bytesPerKey: sum((c) => c.bytesPerKey) / n,
    largestPayloadBytes: largest?.largestPayloadBytes ?? 0,
    largestPayloadEvent: largest?.largestPayloadEvent,
    largestPayloadsBytes: Math.max(0, ...costs.map((c) => c.largestPayloadsBytes)),
    continuedAsNew: Math.max(0, ...costs.map((c) => c.continuedAsNew)),
    byActivity: costs[0]?.byActivity ?? {},
  };
}

/** {@link fetchChain} + {@link temporalCost}, or the error message: a cost that cannot be read must not lose the run's other figures. */
export async function tryTemporalCost(client: Client, workflowId: string, firstRunId: string, keys: number): Promise<TemporalCost | string> {
  try {
    return temporalCost(await fetchChain(client, workflowId, firstRunId), keys);
  } catch (err) {
    return `history of ${workflowId} could not be read: ${(err as Error).message.split('\n')[0]}`;
  }
}
