/**
 * Scenarios 2 and 3 in one run: schedule N keys, then cancel during the waiting period, which rolls every
 * key back (CancelKeyDeletion, then EnableKey because they were Enabled). The emulator's day lasts a real
 * day, so no DeletionDate passes before the cancel.
 *
 * Also the source of the rate chart: both series come from this run's audit log.
 */
import type { AuditEntry } from '../../src/emulator';
import { pacedIntervalMs, scaledQuota } from '../config';
import { inPhase, openEnvironment, startApprovedRun, storeId, waitForStatus, type BenchContext } from '../context';
import { auditBreakdown, perSecondBuckets, phaseFigures, throttledTotal } from '../measurement';
import { tryTemporalCost } from '../temporal-cost';
import type { RateSeries, ScenarioResult } from '../types';
import { eventsPerKeyTarget, mutationResult } from './results';

export interface ScheduleRollbackOutcome {
  schedule: ScenarioResult;
  rollback: ScenarioResult;
  chart: { title: string; series: RateSeries[] };
}

export async function runScheduleRollback(ctx: BenchContext): Promise<ScheduleRollbackOutcome> {
  const { cfg } = ctx;
  const n = cfg.sizes.scheduleKeys;
  const store = storeId('schedule', 1);
  const env = await openEnvironment(ctx, 'schedule-rollback', { dayMs: 86_400_000 });
  try {
    const { keys, mark, t0, started } = await startApprovedRun(env, store, 'bench-schedule', n);
    const scheduleTimeout = (n / scaledQuota('ScheduleKeyDeletion', cfg.quotaScale)) * 3_000 + 120_000;
    const waiting = await waitForStatus(env.decommissions, store, inPhase('WAITING'), scheduleTimeout, 'WAITING');
    const t1 = Date.now();
    await env.decommissions.cancel(store, { by: 'bench-approver', reason: 'benchmark: measure the rollback' });
    const rollbackTimeout = (n / scaledQuota('CancelKeyDeletion', cfg.quotaScale)) * 3_000 + 120_000;
    const cancelled = await waitForStatus(env.decommissions, store, inPhase('CANCELLED'), rollbackTimeout, 'CANCELLED');
    const t2 = Date.now();
    const audit = await env.emulator.admin.audit({ sinceSeq: mark });
    const memory = await env.close();
    const cost = await tryTemporalCost(ctx.client, started.workflowId, started.runId as string, n);

    // Split at the first CancelKeyDeletion: before it, the run was scheduling (or waiting).
    const split = audit.find((e) => e.operation === 'CancelKeyDeletion')?.seq ?? Infinity;
    const scheduleAudit = audit.filter((e) => e.seq < split);
    const rollbackAudit = audit.filter((e) => e.seq >= split);
    const schedule = mutationResult({
      name: `schedule-${n}`,
      title: `Schedule ${n.toLocaleString('en-US')} keys (workflow)`,
      approach: 'workflow',
      operation: 'ScheduleKeyDeletion',
      keys: n,
      quota: scaledQuota('ScheduleKeyDeletion', cfg.quotaScale),
      figures: phaseFigures(scheduleAudit, 'ScheduleKeyDeletion', keys, pacedIntervalMs('ScheduleKeyDeletion', cfg)),
      throttled: throttledTotal(scheduleAudit),
      totalSeconds: (t1 - t0) / 1000,
      notes: [`${waiting.counts.scheduled} keys scheduled by the run; total includes inventory and approval.`],
      extra: auditBreakdown(scheduleAudit),
    });
    const rollback = mutationResult({
      name: `rollback-${n}`,
      title: `Roll back ${n.toLocaleString('en-US')} keys (cancel during the wait)`,
      approach: 'workflow',
      operation: 'CancelKeyDeletion',
      keys: n,
      quota: scaledQuota('CancelKeyDeletion', cfg.quotaScale),
      figures: phaseFigures(rollbackAudit, 'CancelKeyDeletion', keys, pacedIntervalMs('CancelKeyDeletion', cfg)),
      throttled: throttledTotal(rollbackAudit),
      totalSeconds: (t2 - t1) / 1000,
      notes: [
        `${cancelled.counts.rolledBack} keys restored; each also gets EnableKey (separate ${scaledQuota('EnableKey', cfg.quotaScale)}/s quota): ${phaseFigures(rollbackAudit, 'EnableKey', keys).ok} calls.`,
      ],
      extra: auditBreakdown(rollbackAudit),
    });
    if (typeof cost === 'string') rollback.notes.push(cost);
    else {
      rollback.temporal = cost;
      rollback.targets.push(eventsPerKeyTarget(cost));
    }
    rollback.worker = memory;
    return {
      schedule,
      rollback,
      chart: chartOf(audit, cfg.quotaScale, `Schedule then roll back ${n.toLocaleString('en-US')} keys (quota scale ${cfg.quotaScale})`),
    };
  } catch (err) {
    await env.close();
    throw err;
  }
}

/** 1 s buckets of the two mutating operations from the first ScheduleKeyDeletion to the last CancelKeyDeletion. */
export function chartOf(audit: readonly AuditEntry[], quotaScale: number, title: string): { title: string; series: RateSeries[] } {
  const ops = ['ScheduleKeyDeletion', 'CancelKeyDeletion'] as const;
  const relevant = audit.filter((e) => (ops as readonly string[]).includes(e.operation));
  if (relevant.length === 0) return { title, series: [] };
  const t0 = Math.min(...relevant.map((e) => e.time));
  const t1 = Math.max(...relevant.map((e) => e.time));
  const buckets = Math.floor((t1 - t0) / 1000) + 1;
  return {
    title,
    series: ops.map((op) => ({
      operation: op,
      ok: perSecondBuckets(
        relevant.filter((e) => e.operation === op && e.outcome === 'OK').map((e) => e.time),
        t0,
        buckets,
      ),
      throttled: perSecondBuckets(
        relevant.filter((e) => e.operation === op && e.outcome === 'ThrottlingException').map((e) => e.time),
        t0,
        buckets,
      ),
      quotaPerSecond: scaledQuota(op, quotaScale),
    })),
  };
}
