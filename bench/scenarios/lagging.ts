/**
 * Issue 10, "History at scale": the 16,666-key CloudHSM run while KMS lags 3 days past the DeletionDate.
 * Above ~13k keys the ledger is too large to carry across continue-as-new, so the run defers it for good
 * and every hourly verify round lands in one history; this scenario measures that history instead of
 * assuming it.
 *
 * Timeline, in emulated time (one day = `dayMs` real ms): inventory, approval by a second person,
 * scheduling at a raised quota (a few real minutes), the 7-day wait with a daily drift check and a
 * connection check every 5 minutes (one `watchStore` activity per wait), then verification every hour with
 * 12 hours of patience. KMS deletes nothing until 3 days after the latest DeletionDate (the emulator's
 * test-only deletion hold: `deletionLagHours` stops at AWS's documented 24 h), so verification blocks with
 * VERIFY_TIMEOUT at +12, +24, +36, +48 and +60 h; the bench resolves each with `keep-waiting` naming the
 * blocker id, and the round at +72 h finds every key deleted. The hold ends at the same instant for every
 * key: scheduling spans several emulated days here (16,666 keys at a few hundred per second) where it spans
 * 18 minutes at AWS's real quota, and a per-key lag would let the first keys go while the last still wait.
 *
 * Measured from the server's histories of the whole continue-as-new chain: events and bytes per run,
 * largest payload, where the events and bytes go (per activity type and per phase), the verify rounds
 * (checkKeys activities, keys and bytes each), and the per-check cost of a drift check and of a connection
 * check, from which a 30-day window with daily drift checks and 5-minute connection checks is projected.
 */
import { temporal } from '@temporalio/proto';
import type { DecommissionInput, DecommissionReport, DecommissionStatus } from '../../src/shared/types';
import { AWS_QUOTAS, pacedIntervalMs, scaledQuota } from '../config';
import { failIfStuck, openEnvironment, startApprovedRun, storeId, type BenchContext, type Environment } from '../context';
import { phaseFigures, round } from '../measurement';
import { fetchChain, temporalCost, type RunHistory } from '../temporal-cost';
import type { ScenarioResult, TargetCheck } from '../types';
import { mutationResult } from './results';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Real ms per emulated day: full mode 48 s (an emulated hour is 2 s), quick 12 s. */
export const LAGGING_DAY_MS = { full: 48_000, quick: 12_000 } as const;
/** Quota scale of this scenario: ScheduleKeyDeletion at 60/s puts the 16,666 keys in about 5 minutes. */
export const LAGGING_QUOTA_SCALE = 4;
/** KMS deletes the keys this many emulated days after the latest DeletionDate. */
const LAG_DAYS = 3;
const PATIENCE_HOURS = 12;
const EXPECTED_BLOCKS = Math.ceil((LAG_DAYS * 24) / PATIENCE_HOURS) - 1;
/** Half of Temporal's default limits: 51,200 events and 50 MiB of history per run; 2 MiB per payload. */
const EVENTS_TARGET = 25_600;
const BYTES_TARGET = 25 * 1024 * 1024;
const PAYLOAD_TARGET = 2 * 1024 * 1024;
/** The projection: a 30-day window checks drift daily (29 checks) and the connection every 5 minutes. */
const PROJECTED_WINDOW_DAYS = 30;

const HOUR_OF = (dayMs: number) => dayMs / 24;

interface Tally {
  events: number;
  bytes: number;
}

interface ActivityTally extends Tally {
  count: number;
  payloadBytes: number;
}

interface BlockRecord {
  id: string;
  /** Emulated hours after the latest DeletionDate when the run blocked. */
  hoursAfterLatest: number;
  keyCount: number;
  /** Real ms from the blocker appearing to the bench's resolve being accepted. */
  resolvedAfterMs: number;
}

const MiB = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MiB`;
const KiB = (b: number) => (b < 10_240 ? `${Math.round(b)} B` : `${(b / 1024).toFixed(1)} KiB`);
const int = (n: number) => Math.round(n).toLocaleString('en-US');

function eventBytes(event: HistoryEvent): number {
  return temporal.api.history.v1.HistoryEvent.encode(event).finish().length;
}

function decodePayload(p: temporal.api.common.v1.IPayload | null | undefined): unknown {
  if (!p?.data) return undefined;
  try {
    return JSON.parse(Buffer.from(p.data).toString('utf8'));
  } catch {
    return undefined;
  }
}

function payloadBytes(value: unknown, depth = 0): number {
  if (!value || typeof value !== 'object' || depth > 8) return 0;
  if (value instanceof Uint8Array) return 0;
  if (Array.isArray(value)) return value.reduce((a: number, v) => a + payloadBytes(v, depth + 1), 0);
  const record = value as Record<string, unknown>;
  if (record.data instanceof Uint8Array && 'metadata' in record) {
    let size = record.data.length;
    for (const [k, v] of Object.entries((record.metadata ?? {}) as Record<string, Uint8Array>)) size += k.length + (v?.length ?? 0);
    return size;
  }
  return Object.values(record).reduce((a: number, v) => a + payloadBytes(v, depth + 1), 0);
}

/** One event, classified: the run phase it belongs to, its activity type, the activity's summary. */
interface ClassifiedEvent {
  index: number;
  phase: string;
  activity?: string;
  summary?: string;
  scheduled: boolean;
  bytes: number;
  payload: number;
  event: HistoryEvent;
}

/** Walks one run's history, following the DecommissionPhase search attribute the workflow upserts on every phase change. */
function classify(run: RunHistory): ClassifiedEvent[] {
  const typeOf = new Map<string, { type: string; summary?: string }>();
  let phase = 'START';
  return run.events.map((event, index) => {
    const upsert = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.DecommissionPhase;
    const value = decodePayload(upsert);
    if (typeof value === 'string') phase = value;
    else if (Array.isArray(value) && typeof value[0] === 'string') phase = value[0];
    const scheduled = event.activityTaskScheduledEventAttributes;
    let activity: { type: string; summary?: string } | undefined;
    if (scheduled?.activityType?.name) {
      const summary = decodePayload(event.userMetadata?.summary);
      activity = { type: scheduled.activityType.name, summary: typeof summary === 'string' ? summary : undefined };
      typeOf.set(String(event.eventId), activity);
    } else {
      const ref =
        event.activityTaskStartedEventAttributes?.scheduledEventId ??
        event.activityTaskCompletedEventAttributes?.scheduledEventId ??
        event.activityTaskFailedEventAttributes?.scheduledEventId ??
        event.activityTaskTimedOutEventAttributes?.scheduledEventId ??
        event.activityTaskCancelRequestedEventAttributes?.scheduledEventId ??
        event.activityTaskCanceledEventAttributes?.scheduledEventId;
      if (ref !== undefined && ref !== null) activity = typeOf.get(String(ref));
    }
    return {
      index,
      phase,
      activity: activity?.type,
      summary: activity?.summary,
      scheduled: !!scheduled,
      bytes: eventBytes(event),
      payload: payloadBytes(event),
      event,
    };
  });
}

function add(t: Tally, e: ClassifiedEvent): void {
  t.events++;
  t.bytes += e.bytes;
}

/** Splits `events` before every event `starts` matches; the part before the first match is dropped. */
function sliceAt(events: ClassifiedEvent[], starts: (e: ClassifiedEvent) => boolean): ClassifiedEvent[][] {
  const slices: ClassifiedEvent[][] = [];
  for (const e of events) {
    if (starts(e)) slices.push([]);
    slices[slices.length - 1]?.push(e);
  }
  return slices;
}

const tallyOf = (events: ClassifiedEvent[]): Tally =>
  events.reduce<Tally>((t, e) => ({ events: t.events + 1, bytes: t.bytes + e.bytes }), { events: 0, bytes: 0 });
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** Keys a checkKeys activity sent, from its summary ("… keys 1–100 of 16,666"). */
function keysInSummary(summary: string | undefined): number {
  const m = /keys ([\d,]+)–([\d,]+)/.exec(summary ?? '');
  return m ? Number(m[2].replace(/,/g, '')) - Number(m[1].replace(/,/g, '')) + 1 : 0;
}

export interface LaggingAnalysis {
  perRun: { runId: string; events: number; historyBytes: number }[];
  byActivity: Record<string, ActivityTally>;
  /** Events outside any activity (workflow tasks, timers, updates, search attributes…) by event type. */
  otherEvents: Record<string, Tally>;
  byPhase: Record<string, Tally>;
  verifyRounds: {
    rounds: number;
    laggingRounds: number;
    checkKeys: number;
    keysSent: number;
    payloadBytes: number;
    perLaggingRound: Tally & { keys: number; payloadBytes: number };
    finalRounds: Tally & { keys: number; payloadBytes: number; checkKeys: number };
  };
  driftChecks: { checks: number; perCheck: Tally; tail: Tally };
  /** watchStore activities: their history cost, and the connection checks each one made (from its result). */
  watch: {
    activities: number;
    events: number;
    bytes: number;
    payloadBytes: number;
    checks: number;
    minChecks: number;
    maxChecks: number;
    bytesAtMinChecks: number;
    bytesAtMaxChecks: number;
  };
  blocks: { count: number; perBlock: Tally };
}

export function analyse(runs: readonly RunHistory[]): LaggingAnalysis {
  const all = runs.flatMap((r) => classify(r));
  const byActivity: Record<string, ActivityTally> = {};
  const otherEvents: Record<string, Tally> = {};
  const byPhase: Record<string, Tally> = {};
  for (const e of all) {
    add((byPhase[e.phase] ??= { events: 0, bytes: 0 }), e);
    if (e.activity) {
      const a = (byActivity[e.activity] ??= { count: 0, events: 0, bytes: 0, payloadBytes: 0 });
      add(a, e);
      a.payloadBytes += e.payload;
      if (e.scheduled) a.count++;
    } else {
      const type =
        Object.keys(e.event)
          .find((k) => k.endsWith('EventAttributes') && (e.event as Record<string, unknown>)[k])
          ?.replace(/EventAttributes$/, '') ?? 'other';
      add((otherEvents[type] ??= { events: 0, bytes: 0 }), e);
    }
  }

  // Verify rounds: each starts with its probe, checkKeys "Verify: DescribeKey scheduled keys 1–…".
  const verifying = all.filter((e) => e.phase === 'VERIFYING');
  const isRoundStart = (e: ClassifiedEvent) => e.scheduled && e.activity === 'checkKeys' && /^Verify: DescribeKey scheduled keys 1–/.test(e.summary ?? '');
  const rounds = sliceAt(verifying, isRoundStart).map((slice) => {
    const checks = slice.filter((e) => e.scheduled && e.activity === 'checkKeys');
    return {
      ...tallyOf(slice),
      checkKeys: checks.length,
      keys: checks.reduce((a, e) => a + keysInSummary(e.summary), 0),
      payloadBytes: slice.filter((e) => e.activity === 'checkKeys').reduce((a, e) => a + e.payload, 0),
    };
  });
  const lagging = rounds.filter((r) => r.checkKeys === 1);
  const final = rounds.filter((r) => r.checkKeys > 1);
  const sum = (rs: typeof rounds, f: (r: (typeof rounds)[number]) => number) => rs.reduce((a, r) => a + f(r), 0);

  // Drift checks: every WAITING slice from one watchStore to the next holds one wait and, but for the last, one driftScan.
  const waiting = all.filter((e) => e.phase === 'WAITING');
  const waits = sliceAt(waiting, (e) => e.scheduled && e.activity === 'watchStore');
  const withDrift = waits.filter((s) => s.some((e) => e.activity === 'driftScan'));
  const tails = waits.filter((s) => !s.some((e) => e.activity === 'driftScan'));

  // Blocks: every BLOCKED stretch (the workflow upserts BLOCKED, then the phase again once resolved).
  const blocked: ClassifiedEvent[][] = [];
  let previous = '';
  for (const e of all) {
    if (e.phase === 'BLOCKED') {
      if (previous !== 'BLOCKED') blocked.push([]);
      blocked[blocked.length - 1].push(e);
    }
    previous = e.phase;
  }

  const watch = byActivity.watchStore ?? { count: 0, events: 0, bytes: 0, payloadBytes: 0 };
  // Each watchStore's own events and bytes against the checks it reports: a check's marginal history cost.
  const perWatch = new Map<number, { checks: number; bytes: number }>();
  const watchOf = new Map<string, number>();
  for (const e of all) {
    if (e.activity !== 'watchStore') continue;
    if (e.scheduled) watchOf.set(`${e.event.eventId}`, e.index);
    const ref = e.scheduled
      ? `${e.event.eventId}`
      : `${e.event.activityTaskStartedEventAttributes?.scheduledEventId ?? e.event.activityTaskCompletedEventAttributes?.scheduledEventId ?? ''}`;
    const key = watchOf.get(ref);
    if (key === undefined) continue;
    const w = perWatch.get(key) ?? { checks: 0, bytes: 0 };
    w.bytes += e.bytes;
    const result = decodePayload(e.event.activityTaskCompletedEventAttributes?.result?.payloads?.[0]) as { checks?: number } | undefined;
    if (typeof result?.checks === 'number') w.checks = result.checks;
    perWatch.set(key, w);
  }
  const watches = [...perWatch.values()].sort((x, y) => x.checks - y.checks);
  return {
    perRun: runs.map((r) => ({ runId: r.runId, events: r.events.length, historyBytes: r.historyBytes })),
    byActivity,
    otherEvents,
    byPhase,
    verifyRounds: {
      rounds: rounds.length,
      laggingRounds: lagging.length,
      checkKeys: sum(rounds, (r) => r.checkKeys),
      keysSent: sum(rounds, (r) => r.keys),
      payloadBytes: sum(rounds, (r) => r.payloadBytes),
      perLaggingRound: {
        events: mean(lagging.map((r) => r.events)),
        bytes: mean(lagging.map((r) => r.bytes)),
        keys: mean(lagging.map((r) => r.keys)),
        payloadBytes: mean(lagging.map((r) => r.payloadBytes)),
      },
      finalRounds: {
        events: sum(final, (r) => r.events),
        bytes: sum(final, (r) => r.bytes),
        keys: sum(final, (r) => r.keys),
        payloadBytes: sum(final, (r) => r.payloadBytes),
        checkKeys: sum(final, (r) => r.checkKeys),
      },
    },
    driftChecks: {
      checks: withDrift.length,
      perCheck: { events: mean(withDrift.map((s) => s.length)), bytes: mean(withDrift.map((s) => tallyOf(s).bytes)) },
      tail: { events: tails.reduce((x, s) => x + s.length, 0), bytes: tails.reduce((x, s) => x + tallyOf(s).bytes, 0) },
    },
    watch: {
      activities: watch.count,
      events: watch.events,
      bytes: watch.bytes,
      payloadBytes: watch.payloadBytes,
      checks: watches.reduce((x, w) => x + w.checks, 0),
      minChecks: watches[0]?.checks ?? 0,
      maxChecks: watches[watches.length - 1]?.checks ?? 0,
      bytesAtMinChecks: watches[0]?.bytes ?? 0,
      bytesAtMaxChecks: watches[watches.length - 1]?.bytes ?? 0,
    },
    blocks: { count: blocked.length, perBlock: { events: mean(blocked.map((b) => b.length)), bytes: mean(blocked.map((b) => tallyOf(b).bytes)) } },
  };
}

/** Drives the run to its end: refines the deletion hold once the latest DeletionDate is known, resolves every VERIFY_TIMEOUT with keep-waiting. */
async function driveToEnd(
  ctx: BenchContext,
  env: Environment,
  store: string,
  dayMs: number,
  timeoutMs: number,
): Promise<{ final: DecommissionStatus; latest: number; holdUntil: number; blocks: BlockRecord[] }> {
  const deadline = Date.now() + timeoutMs;
  const blocks: BlockRecord[] = [];
  const resolved = new Set<string>();
  let latest: number | undefined;
  let holdUntil: number | undefined;
  let phase = '';
  let lastStuckCheck = Date.now();
  const failedResolves = new Map<string, number>();
  for (;;) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms; ${store} is ${phase}`);
    if (Date.now() - lastStuckCheck > 15_000) {
      lastStuckCheck = Date.now();
      await failIfStuck(env.decommissions, store);
    }
    let s: DecommissionStatus;
    try {
      s = await env.decommissions.getStatus(store);
    } catch (err) {
      ctx.log(`  status query failed (retrying): ${(err as Error).message.split('\n')[0]}`);
      await new Promise((r) => setTimeout(r, 1_000));
      continue;
    }
    if (s.phase !== phase) {
      ctx.log(`  ${store}: ${s.phase}${s.blocker ? ` (${s.blocker.id})` : ''}, ${int(s.counts.scheduled)} scheduled, ${int(s.counts.deleted)} deleted`);
      phase = s.phase;
    }
    if (s.phase === 'COMPLETED' || s.phase === 'CANCELLED' || s.phase === 'FAILED') {
      if (latest === undefined || holdUntil === undefined) throw new Error(`${store} ended ${s.phase} before its waiting period`);
      return { final: s, latest, holdUntil, blocks };
    }
    // The scheduling is over once the run waits: its latest DeletionDate is final. KMS deletes 3 days after it.
    if (holdUntil === undefined && (s.phase === 'WAITING' || s.phase === 'VERIFYING') && s.latestDeletionDate) {
      latest = s.latestDeletionDate;
      holdUntil = latest + LAG_DAYS * dayMs;
      await env.emulator.admin.holdDeletions(holdUntil);
      ctx.log(
        `  KMS deletes nothing until ${new Date(holdUntil).toISOString()} (${LAG_DAYS} emulated days after the latest DeletionDate ${new Date(latest).toISOString()})`,
      );
    }
    const blocker = s.blocker;
    if (s.phase === 'BLOCKED' && blocker && !resolved.has(blocker.id)) {
      if (blocker.kind !== 'VERIFY_TIMEOUT' || latest === undefined) throw new Error(`${store} blocked on ${blocker.id}: ${blocker.message}`);
      try {
        await env.decommissions.resolve(store, {
          by: 'bench-operator',
          action: 'keep-waiting',
          blockerId: blocker.id,
          comment: `bench: KMS lags ${LAG_DAYS} days`,
        });
      } catch (err) {
        // A status read a moment old can name a blocker just gone; a resolve refused three times is a real failure.
        const failures = (failedResolves.get(blocker.id) ?? 0) + 1;
        failedResolves.set(blocker.id, failures);
        if (failures >= 3) throw err;
        ctx.log(`  resolve ${blocker.id} refused (retrying): ${(err as Error).message.split('\n')[0]}`);
        continue;
      }
      resolved.add(blocker.id);
      const record = {
        id: blocker.id,
        hoursAfterLatest: round((blocker.since - latest) / HOUR_OF(dayMs), 2),
        keyCount: blocker.keyCount,
        resolvedAfterMs: Date.now() - blocker.since,
      };
      blocks.push(record);
      ctx.log(`  ${blocker.id} at +${record.hoursAfterLatest} emulated h (${int(record.keyCount)} keys pending): resolved keep-waiting`);
      continue;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function runLagging(ctx: BenchContext): Promise<ScenarioResult> {
  const { cfg } = ctx;
  const n = cfg.sizes.largeScheduleKeys;
  const dayMs = LAGGING_DAY_MS[cfg.mode];
  const hourMs = HOUR_OF(dayMs);
  const quotaScale = LAGGING_QUOTA_SCALE;
  const store = storeId('lagging', 1);
  const env = await openEnvironment(ctx, 'lagging', { dayMs, quotaScale });
  try {
    const timing = {
      storePollInterval: 200,
      driftCheckInterval: dayMs,
      verifyInterval: hourMs,
      verifyPatience: PATIENCE_HOURS * hourMs,
      connectionCheckInterval: Math.max(100, Math.round(dayMs / 288)),
    };
    const input: DecommissionInput = { customKeyStoreId: store, requestedBy: 'bench-requester', pendingWindowInDays: 7, ticket: 'BENCH-LAGGING', timing };
    // Nothing is deleted until the bench knows the latest DeletionDate (then: 3 days after it).
    await env.emulator.admin.holdDeletions(Date.now() + 365 * dayMs);
    const { keys, mark, t0, started } = await startApprovedRun(env, store, 'bench-lagging', n, input);
    ctx.log(
      `  approved by a second person; day ${dayMs / 1000} s, hour ${hourMs / 1000} s, ScheduleKeyDeletion ${scaledQuota('ScheduleKeyDeletion', quotaScale)}/s`,
    );
    const scheduleMs = (n / (AWS_QUOTAS.ScheduleKeyDeletion * quotaScale * cfg.utilization)) * 1000;
    const { final, latest, holdUntil, blocks } = await driveToEnd(ctx, env, store, dayMs, 3 * scheduleMs + 14 * dayMs + 600_000);
    const t1 = Date.now();
    const schedules = await env.emulator.admin.audit({ sinceSeq: mark, operation: 'ScheduleKeyDeletion' });
    const storeChecks = await env.emulator.admin.audit({ sinceSeq: mark, operation: 'DescribeCustomKeyStores' });
    const stats = await env.emulator.admin.stats();
    const deletions = await env.emulator.admin.deletions();
    const memory = await env.close();

    const runs = await fetchChain(ctx.client, started.workflowId, started.runId as string);
    const cost = temporalCost(runs, n);
    const a = analyse(runs);
    const report = (await ctx.client.workflow.getHandle(started.workflowId).result()) as DecommissionReport;
    const canNotes = report.notes.filter((note) => /continue-as-new/i.test(note));

    const maxRunEvents = Math.max(...a.perRun.map((r) => r.events));
    const maxRunBytes = Math.max(...a.perRun.map((r) => r.historyBytes));
    const verifyDurationH = (t1 - latest) / hourMs;
    // Connection checks: what the watchStore activities report, against the emulator's DescribeCustomKeyStores
    // count since scheduling ended. Averaged over the checks, the watchers' own events give an upper bound
    // per check; the marginal cost is what a watcher with many checks costs beyond one with few.
    const watchChecks = a.watch.checks;
    const storeReadsAfterScheduling = storeChecks.filter((e) => e.time >= (final.scheduling?.finishedAt ?? 0)).length;
    const perConnectionCheck = { events: a.watch.events / Math.max(1, watchChecks), bytes: a.watch.bytes / Math.max(1, watchChecks) };
    const marginalCheckBytes =
      a.watch.maxChecks > a.watch.minChecks ? (a.watch.bytesAtMaxChecks - a.watch.bytesAtMinChecks) / (a.watch.maxChecks - a.watch.minChecks) : 0;
    // 30-day window: 29 daily drift checks instead of the ones measured; each adds one wait + one drift scan slice.
    // Connection checks run inside the waits' watchStore activities (heartbeats only): no events of their own.
    const extraDrift = Math.max(0, PROJECTED_WINDOW_DAYS - 1 - a.driftChecks.checks);
    const projected = { events: maxRunEvents + extraDrift * a.driftChecks.perCheck.events, bytes: maxRunBytes + extraDrift * a.driftChecks.perCheck.bytes };
    const checks30 = PROJECTED_WINDOW_DAYS * 288;

    const figures = phaseFigures(schedules, 'ScheduleKeyDeletion', keys, pacedIntervalMs('ScheduleKeyDeletion', { quotaScale, utilization: cfg.utilization }));
    const result = mutationResult({
      name: `lagging-${n}`,
      title: `${n.toLocaleString('en-US')} keys, KMS ${LAG_DAYS} days late, ${blocks.length} keep-waiting (complete run)`,
      approach: 'workflow',
      operation: 'ScheduleKeyDeletion',
      keys: n,
      quota: scaledQuota('ScheduleKeyDeletion', quotaScale),
      figures,
      throttled: Object.values(stats.throttled).reduce((x, y) => x + y, 0),
      totalSeconds: (t1 - t0) / 1000,
      withTargets: false,
      notes: [],
      extra: {
        finalPhase: final.phase,
        dayMs,
        quotaScale,
        timing: JSON.stringify(timing),
        latestDeletionDate: new Date(latest).toISOString(),
        deletionsHeldUntil: new Date(holdUntil).toISOString(),
        keysDeletedByKms: deletions.length,
        verifyTimeouts: blocks.length,
        blocks: JSON.stringify(blocks),
        continueAsNewNotes: canNotes.join(' | '),
        maxRunEvents,
        maxRunHistoryBytes: maxRunBytes,
        perRun: JSON.stringify(a.perRun),
        historyByActivity: JSON.stringify(a.byActivity),
        historyOtherEvents: JSON.stringify(a.otherEvents),
        historyByPhase: JSON.stringify(a.byPhase),
        verifyRounds: a.verifyRounds.rounds,
        verifyRoundsLagging: a.verifyRounds.laggingRounds,
        verifyCheckKeysActivities: a.verifyRounds.checkKeys,
        verifyKeysSent: a.verifyRounds.keysSent,
        verifyPayloadBytes: a.verifyRounds.payloadBytes,
        perLaggingRound: JSON.stringify(a.verifyRounds.perLaggingRound),
        finalRounds: JSON.stringify(a.verifyRounds.finalRounds),
        driftChecks: a.driftChecks.checks,
        perDriftCheck: JSON.stringify(a.driftChecks.perCheck),
        watchStoreActivities: a.watch.activities,
        connectionChecks: watchChecks,
        describeCustomKeyStoresAfterScheduling: storeReadsAfterScheduling,
        perConnectionCheck: JSON.stringify(perConnectionCheck),
        watchStore: JSON.stringify(a.watch),
        marginalConnectionCheckBytes: round(marginalCheckBytes, 2),
        perBlock: JSON.stringify(a.blocks.perBlock),
        projected30DayEvents: Math.round(projected.events),
        projected30DayBytes: Math.round(projected.bytes),
        requests: JSON.stringify(stats.requests),
      },
    });
    result.temporal = cost;
    result.worker = memory;
    const targets: TargetCheck[] = [
      { description: `run completes (ended ${final.phase})`, met: final.phase === 'COMPLETED' },
      { description: `verification blocked with VERIFY_TIMEOUT exactly ${EXPECTED_BLOCKS} times: ${blocks.length}`, met: blocks.length === EXPECTED_BLOCKS },
      {
        description: `≤ ${int(EVENTS_TARGET)} history events per run (half of 51,200): ${int(maxRunEvents)} in the largest of ${runs.length} run(s)`,
        met: maxRunEvents <= EVENTS_TARGET,
      },
      { description: `≤ 25 MiB of history per run (half of 50 MiB): ${MiB(maxRunBytes)}`, met: maxRunBytes <= BYTES_TARGET },
      {
        description: `largest payload ≤ 2 MiB: ${KiB(cost.largestPayloadBytes)} (${cost.largestPayloadEvent ?? '?'})`,
        met: cost.largestPayloadBytes <= PAYLOAD_TARGET,
      },
      { description: `zero failed calls: ${result.failedCalls}`, met: result.failedCalls === 0 },
      {
        description: `projected ${PROJECTED_WINDOW_DAYS}-day window (29 daily drift checks, ${int(checks30)} connection checks) within half the limits: ${int(projected.events)} events, ${MiB(projected.bytes)}`,
        met: projected.events <= EVENTS_TARGET && projected.bytes <= BYTES_TARGET,
      },
    ];
    result.targets.push(...targets);
    const top = Object.entries(a.byActivity)
      .sort((x, y) => y[1].bytes - x[1].bytes)
      .slice(0, 4)
      .map(([type, t]) => `${type} ${MiB(t.bytes)} / ${int(t.events)} events in ${t.count} activities`)
      .join(', ');
    result.notes.push(
      `${int(n)} keys, KMS deleting them ${LAG_DAYS} emulated days after the latest DeletionDate: ${blocks.length} VERIFY_TIMEOUT blockers (at +${blocks.map((b) => b.hoursAfterLatest.toFixed(1)).join(', +')} h), each resolved keep-waiting; the run ended ${final.phase} ${verifyDurationH.toFixed(1)} emulated h after the latest DeletionDate.`,
      `History: ${runs.length} run(s), ${cost.continuedAsNew} continue-as-new${canNotes.length ? ` (${canNotes[0]})` : ''}; largest run ${int(maxRunEvents)} events, ${MiB(maxRunBytes)}; largest payload ${KiB(cost.largestPayloadBytes)}. Where it goes: ${top}.`,
      `Verification: ${a.verifyRounds.rounds} rounds, ${a.verifyRounds.checkKeys} checkKeys activities, ${int(a.verifyRounds.keysSent)} key IDs sent, ${MiB(a.verifyRounds.payloadBytes)} of payloads. While KMS lagged (${a.verifyRounds.laggingRounds} rounds) a round cost ${a.verifyRounds.perLaggingRound.events.toFixed(1)} events and ${KiB(a.verifyRounds.perLaggingRound.bytes)} (${a.verifyRounds.perLaggingRound.keys.toFixed(0)} keys probed); the round(s) that found the keys deleted cost ${int(a.verifyRounds.finalRounds.events)} events and ${MiB(a.verifyRounds.finalRounds.bytes)} (${a.verifyRounds.finalRounds.checkKeys} checkKeys).`,
      `Per check, measured: a drift check (one wait + one driftScan) ${a.driftChecks.perCheck.events.toFixed(1)} events and ${KiB(a.driftChecks.perCheck.bytes)} (${a.driftChecks.checks} in this 7-day window); connection checks ran inside the waits' ${a.watch.activities} watchStore activities (${int(watchChecks)} checks; ${a.watch.minChecks}–${a.watch.maxChecks} per activity, always 3 events each: ${KiB(a.watch.bytesAtMinChecks)} with ${a.watch.minChecks} check(s), ${KiB(a.watch.bytesAtMaxChecks)} with ${a.watch.maxChecks}), so a check adds ${Math.abs(marginalCheckBytes) < 1 ? 'no bytes' : `${marginalCheckBytes.toFixed(1)} bytes`} and no events at the margin (${perConnectionCheck.events.toFixed(3)} events and ${KiB(perConnectionCheck.bytes)} if the watchers' whole cost is spread over the checks). A ${PROJECTED_WINDOW_DAYS}-day window adds ${extraDrift} drift checks: about ${int(projected.events)} events and ${MiB(projected.bytes)} per run; its ${int(checks30)} connection checks add no events.`,
    );
    return result;
  } catch (err) {
    await env.close();
    throw err;
  }
}
