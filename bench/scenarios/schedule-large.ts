/**
 * Scenario 2, the CloudHSM ceiling (16,666 keys), as one complete run: inventory, approval, scheduling,
 * the 7-day wait (2.1 s: the emulator's day lasts 0.3 s) with exactly one drift check in it (due 1 s into the
 * wait, it outlasts the rest), verification, disconnect and delete. It is also the run whose Temporal cost
 * (history, continue-as-new, payloads) matters most; the drift check's share of the history tells what a
 * real 30-day wait with daily checks adds.
 */
import { pacedIntervalMs, scaledQuota, SHORT_DAY_MS } from '../config';
import { benchInput, inPhase, openEnvironment, startApprovedRun, storeId, waitForStatus, type BenchContext } from '../context';
import { auditBreakdown, phaseFigures, throttledTotal } from '../measurement';
import { tryTemporalCost } from '../temporal-cost';
import type { DecommissionReport } from '../../src/shared/types';
import type { ScenarioResult } from '../types';
import { eventsPerKeyTarget, mutationResult } from './results';

export async function runScheduleLarge(ctx: BenchContext): Promise<ScenarioResult> {
  const { cfg } = ctx;
  const n = cfg.sizes.largeScheduleKeys;
  const store = storeId('large', 1);
  const env = await openEnvironment(ctx, 'schedule-large', { dayMs: SHORT_DAY_MS });
  try {
    const input = benchInput(store);
    const { keys, mark, t0, started } = await startApprovedRun(env, store, 'bench-large', n, {
      ...input,
      timing: { ...input.timing, driftCheckInterval: 1_000 },
    });
    const timeout = (n / scaledQuota('ScheduleKeyDeletion', cfg.quotaScale)) * 3_000 + 300_000;
    const final = await waitForStatus(env.decommissions, store, inPhase('COMPLETED', 'CANCELLED'), timeout, 'COMPLETED', 1_000);
    const t1 = Date.now();
    const audit = await env.emulator.admin.audit({ sinceSeq: mark });
    const memory = await env.close();
    const cost = await tryTemporalCost(ctx.client, started.workflowId, started.runId as string, n);
    // The workflow explains its own continue-as-new decisions in the report's notes.
    const report = (await ctx.client.workflow.getHandle(started.workflowId).result()) as DecommissionReport;
    const canNotes = report.notes.filter((note) => /continue-as-new/i.test(note));
    const result = mutationResult({
      name: `schedule-${n}`,
      title: `Schedule ${n.toLocaleString('en-US')} keys (workflow, complete run)`,
      approach: 'workflow',
      operation: 'ScheduleKeyDeletion',
      keys: n,
      quota: scaledQuota('ScheduleKeyDeletion', cfg.quotaScale),
      figures: phaseFigures(audit, 'ScheduleKeyDeletion', keys, pacedIntervalMs('ScheduleKeyDeletion', cfg)),
      throttled: throttledTotal(audit),
      totalSeconds: (t1 - t0) / 1000,
      notes: [
        ...canNotes,
        `Run ended ${final.phase} with ${final.counts.deleted.toLocaleString('en-US')} keys confirmed deleted; total includes inventory, approval, a 2.1 s wait (7 emulated days), verification, disconnect and delete.`,
      ],
      extra: { finalPhase: final.phase, continueAsNewNotes: canNotes.join(' | '), ...auditBreakdown(audit) },
    });
    if (typeof cost === 'string') result.notes.push(cost);
    else {
      result.temporal = cost;
      result.targets.push(eventsPerKeyTarget(cost));
      const drift = cost.byActivity.driftScan;
      if (drift) {
        const perCheck = drift.payloadBytes / drift.count;
        result.extra = {
          ...result.extra,
          driftCheckPayloadBytes: Math.round(perCheck),
          historyBytesAfter30DailyChecks: Math.round(cost.historyBytes + 29 * perCheck),
        };
        const check = cost.byActivity.checkKeys;
        if (check) {
          // Verification re-reads every key still pending each verifyInterval while KMS lags (up to 24 h).
          result.notes.push(
            `Verification (checkKeys) put ${(check.payloadBytes / 1e6).toFixed(2)} MB in the history for one pass over the keys; every extra hourly pass while KMS lags behind the DeletionDate adds up to that again, with continue-as-new deferred for a ledger this size.`,
          );
        }
        result.notes.push(
          `One drift check (driftScan) put ${perCheck < 10_240 ? `${Math.round(perCheck)} bytes` : `${Math.round(perCheck / 1024)} KiB`} of payloads in the history; a 30-day window with daily checks would reach about ${(cost.historyBytes + 29 * perCheck) / 1e6 < 10 ? ((cost.historyBytes + 29 * perCheck) / 1e6).toFixed(1) : Math.round((cost.historyBytes + 29 * perCheck) / 1e6)} MB (limits: warning 10 MB, termination 50 MB).`,
        );
      }
    }
    result.worker = memory;
    if (final.phase !== 'COMPLETED') result.targets.push({ description: `run completes (ended ${final.phase})`, met: false });
    return result;
  } catch (err) {
    await env.close();
    throw err;
  }
}
