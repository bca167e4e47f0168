/**
 * Scenario 5 (memory): peak RSS of a fresh worker process hosting R concurrent decommissions of small stores.
 *
 * KMS allows at most 10 custom key stores per account and Region (the emulator enforces it), and a worker
 * talks to one account, so a worker can never have more than 10 decommissions that change keys at once.
 * For R > 10 the extra runs are started against the same stores under workflow IDs of their own: every
 * run inventories the account concurrently and then waits for approval, holding its ledger in the worker's
 * cache; one run per store is approved and completes, the others are cancelled before scheduling
 * (nothing changed). That is the most a worker hosts; its memory is what is measured.
 */
import { scaledQuota, SHORT_DAY_MS } from '../config';
import { benchInput, openEnvironment, phaseIs, storeId, waitForCount, type BenchContext } from '../context';
import { phaseFigures, round, throttledByOperation, throttledTotal } from '../measurement';
import { averageCost, tryTemporalCost } from '../temporal-cost';
import type { ScenarioResult, TemporalCost } from '../types';
import { mutationResult } from './results';
import { WORKFLOW_TYPE, workflowIdFor } from '../../src/shared/messages';

const STORE_LIMIT = 10;
const RSS_TARGET_MB = 300;

export async function runRss(ctx: BenchContext, runs: number): Promise<ScenarioResult> {
  const { cfg } = ctx;
  const perStore = cfg.sizes.rssKeysPerStore;
  const storeCount = Math.min(runs, STORE_LIMIT);
  const ids = Array.from({ length: storeCount }, (_, i) => storeId(`rss${runs}`, i + 1));
  const env = await openEnvironment(ctx, `rss-${runs}`, { dayMs: SHORT_DAY_MS });
  try {
    await env.emulator.admin.seed({ stores: ids.map((id, i) => ({ id, name: `bench-rss-${i + 1}`, connectionState: 'CONNECTED' as const })) });
    await env.emulator.admin.seed({ keys: ids.map((id) => ({ count: perStore, customKeyStoreId: id, keyState: 'Enabled' as const })) });
    await env.applyLatency();
    const worker = env.worker as NonNullable<typeof env.worker>;
    worker.peakRssMiB(true);
    const t0 = Date.now();
    const primaries = await Promise.all(ids.map((id) => env.decommissions.startDecommission(benchInput(id))));
    const shadows: { workflowId: string; runId: string }[] = [];
    await Promise.all(
      Array.from({ length: runs - storeCount }, async (_, i) => {
        const store = ids[i % storeCount];
        const workflowId = `${workflowIdFor(store)}-shadow-${i + 1}`;
        const handle = await ctx.client.workflow.start(WORKFLOW_TYPE, { taskQueue: env.worker?.taskQueue as string, workflowId, args: [benchInput(store)] });
        shadows.push({ workflowId, runId: handle.firstExecutionRunId });
      }),
    );
    const everyId = [...primaries.map((p) => p.workflowId), ...shadows.map((s) => s.workflowId)];
    const taskQueue = worker.taskQueue;
    await waitForCount(ctx.client, taskQueue, phaseIs('AWAITING_APPROVAL'), everyId.length, 900_000, 'AWAITING_APPROVAL');
    const allWaiting = Date.now();
    // Peaks per phase tell activity memory (the concurrent inventories) from cached workflows (held afterwards).
    const peakInventory = worker.peakRssMiB(true);
    await new Promise((r) => setTimeout(r, 3_000));
    const heldWaiting = worker.peakRssMiB(true);
    await Promise.all(ids.map((id) => env.decommissions.approve(id, { approver: 'bench-approver' })));
    const timeout = ((storeCount * perStore) / scaledQuota('ScheduleKeyDeletion', cfg.quotaScale)) * 3_000 + 300_000;
    await waitForCount(ctx.client, taskQueue, `ExecutionStatus = 'Completed' AND ${phaseIs('COMPLETED')}`, storeCount, timeout, 'COMPLETED');
    await Promise.all(shadows.map((s) => env.decommissions.cancel(s.workflowId, { by: 'bench-approver', reason: 'benchmark: memory run done' })));
    await waitForCount(ctx.client, taskQueue, `ExecutionStatus = 'Completed'`, everyId.length, 300_000, 'every run to end');
    const t1 = Date.now();
    const peakRest = worker.peakRssMiB(true);
    const audit = await env.emulator.admin.audit();
    const memory = await env.close();
    const costs = await Promise.all(primaries.map((p) => tryTemporalCost(ctx.client, p.workflowId, p.runId as string, perStore)));
    if (!memory) throw new Error('no worker memory figures');
    const result = mutationResult({
      name: `worker-rss-${runs}`,
      title: `Worker memory, ${runs} concurrent decommissions (${perStore} keys each)`,
      approach: 'workflow',
      operation: 'ScheduleKeyDeletion',
      keys: storeCount * perStore,
      quota: scaledQuota('ScheduleKeyDeletion', cfg.quotaScale),
      figures: phaseFigures(audit, 'ScheduleKeyDeletion'),
      throttled: throttledTotal(audit),
      totalSeconds: (t1 - t0) / 1000,
      withTargets: false,
      notes: [
        runs > storeCount
          ? `${storeCount} stores (the per-account limit); ${runs} runs in the worker at once for ${round((allWaiting - t0) / 1000, 1)} s+ (all inventoried concurrently, ${storeCount} then completed, ${runs - storeCount} cancelled before scheduling).`
          : `${runs} complete runs at once.`,
        `Worker RSS peaks by phase: ${peakInventory} MiB while the ${runs} runs inventoried at once, ${heldWaiting} MiB with all ${runs} awaiting approval, ${peakRest} MiB from the approvals to the end.`,
        `Worker RSS at start ${memory.startRssMiB} MiB, peak ${memory.peakRssMiB} MiB (VmHWM ${memory.hwmMiB} MiB, ${memory.samples} samples). Small stores: the rate figures are dominated by start-up.`,
      ],
      extra: {
        runs,
        stores: storeCount,
        peakRssInventoryMiB: peakInventory,
        rssAllAwaitingApprovalMiB: heldWaiting,
        peakRssSchedulingToEndMiB: peakRest,
        throttledByOperation: JSON.stringify(throttledByOperation(audit)),
      },
    });
    const readable = costs.filter((c): c is TemporalCost => typeof c !== 'string');
    if (readable.length) result.temporal = averageCost(readable);
    result.notes.push(...costs.filter((c): c is string => typeof c === 'string'));
    result.worker = memory;
    // /proc reports KiB; the target is in MB (10^6 bytes), the stricter reading.
    const peakMB = (memory.peakRssMiB * 1_048_576) / 1e6;
    if (runs >= 100)
      result.targets.push({
        description: `worker peak RSS ≤ ${RSS_TARGET_MB} MB: ${round(peakMB, 0)} MB (${memory.peakRssMiB} MiB)`,
        met: peakMB <= RSS_TARGET_MB,
      });
    return result;
  } catch (err) {
    await env.close();
    throw err;
  }
}
