/**
 * Scenario 4: ten decommissions in one account on one worker, released together by approving all ten at
 * once. The quota is account-wide, so what counts is the account's ScheduleKeyDeletion rate: never above
 * the quota in any 1 s window, and the total close to (all keys) ÷ quota.
 */
import { pacedIntervalMs, scaledQuota, SHORT_DAY_MS } from '../config';
import { auditMark, benchInput, openEnvironment, phaseIs, storeId, waitForCount, type BenchContext } from '../context';
import { auditBreakdown, phaseFigures, round, throttledTotal } from '../measurement';
import { averageCost, tryTemporalCost } from '../temporal-cost';
import type { ScenarioResult, TemporalCost } from '../types';
import { mutationResult } from './results';

export async function runConcurrent(ctx: BenchContext): Promise<ScenarioResult> {
  const { cfg } = ctx;
  const stores = cfg.sizes.concurrentStores;
  const perStore = cfg.sizes.concurrentKeysPerStore;
  const total = stores * perStore;
  const ids = Array.from({ length: stores }, (_, i) => storeId('concurrent', i + 1));
  const env = await openEnvironment(ctx, 'concurrent', { dayMs: SHORT_DAY_MS });
  try {
    await env.emulator.admin.seed({ stores: ids.map((id, i) => ({ id, name: `bench-concurrent-${i + 1}`, connectionState: 'CONNECTED' as const })) });
    const seeded = await env.emulator.admin.seed({ keys: ids.map((id) => ({ count: perStore, customKeyStoreId: id, keyState: 'Enabled' as const })) });
    const keys = new Set(seeded.keyIds.flat());
    await env.applyLatency();
    const mark = await auditMark(env.emulator.admin);
    const t0 = Date.now();
    const started = await Promise.all(ids.map((id) => env.decommissions.startDecommission(benchInput(id))));
    const taskQueue = (env.worker as NonNullable<typeof env.worker>).taskQueue;
    await waitForCount(ctx.client, taskQueue, phaseIs('AWAITING_APPROVAL'), stores, 900_000, 'AWAITING_APPROVAL');
    await Promise.all(ids.map((id) => env.decommissions.approve(id, { approver: 'bench-approver' })));
    const timeout = (total / scaledQuota('ScheduleKeyDeletion', cfg.quotaScale)) * 3_000 + 300_000;
    await waitForCount(ctx.client, taskQueue, `ExecutionStatus = 'Completed'`, stores, timeout, 'COMPLETED');
    const finals = await Promise.all(ids.map((id) => env.decommissions.getStatus(id)));
    const t1 = Date.now();
    const audit = await env.emulator.admin.audit({ sinceSeq: mark });
    const memory = await env.close();
    const costs = await Promise.all(started.map((s) => tryTemporalCost(ctx.client, s.workflowId, s.runId as string, perStore)));

    const quota = scaledQuota('ScheduleKeyDeletion', cfg.quotaScale);
    const figures = phaseFigures(audit, 'ScheduleKeyDeletion', keys, pacedIntervalMs('ScheduleKeyDeletion', cfg));
    // Per store: when each run scheduled its first and last key, to show they really overlapped.
    const perStoreSpans = seeded.keyIds.map((storeKeys) => phaseFigures(audit, 'ScheduleKeyDeletion', new Set(storeKeys)));
    const overlapStart = Math.max(...perStoreSpans.map((f) => f.firstTime ?? 0));
    const overlapEnd = Math.min(...perStoreSpans.map((f) => f.lastTime ?? 0));
    const result = mutationResult({
      name: `concurrent-${stores}x${perStore}`,
      title: `${stores} concurrent decommissions × ${perStore.toLocaleString('en-US')} keys, one worker`,
      approach: 'workflow',
      operation: 'ScheduleKeyDeletion',
      keys: total,
      quota,
      figures,
      throttled: throttledTotal(audit),
      totalSeconds: (t1 - t0) / 1000,
      notes: [
        `Account-wide rate; the ${stores} runs were approved together and all scheduled at once for ${round(Math.max(0, overlapEnd - overlapStart) / 1000, 1)} s. Per-run rates: ${perStoreSpans.map((f) => f.perSecond.toFixed(1)).join(', ')} /s.`,
        `Ended: ${[...new Set(finals.map((f) => f.phase))].join(', ')}; total includes ${stores} concurrent inventories of the whole account.`,
      ],
      extra: auditBreakdown(audit),
    });
    result.targets.push({
      description: `max ScheduleKeyDeletion in any 1 s window ≤ quota: ${figures.maxInAnySecond} ≤ ${quota}`,
      met: figures.maxInAnySecond <= quota,
    });
    const readable = costs.filter((c): c is TemporalCost => typeof c !== 'string');
    if (readable.length) result.temporal = averageCost(readable);
    result.notes.push(...costs.filter((c): c is string => typeof c === 'string'));
    result.worker = memory;
    return result;
  } catch (err) {
    await env.close();
    throw err;
  }
}
