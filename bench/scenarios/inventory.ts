/**
 * Scenario 1: dry-run inventory of an account of N keys, a few thousand of them in the store. The bound is
 * N ÷ the DescribeKey quota; the emulator's measured ceiling is the other limit, and the lower one counts.
 *
 * Runs at AWS's real DescribeKey quota (2,000/s) even when `--quota-scale` raises the quotas to shorten
 * the mutation scenarios: a raised DescribeKey quota is beyond what this machine can serve at all, so it
 * would measure the machine, not the pacing. A scale below 1 still shrinks it.
 */
import type { SeedKeys } from '../../src/emulator';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { measureDescribeCeiling } from '../ceiling';
import { DEFAULT_DESCRIBE_CONCURRENCY } from '../../src/activities/deps';
import { summariseCpuProfile } from '../profile';
import { scaledQuota } from '../config';
import { auditMark, benchInput, inPhase, openEnvironment, storeId, waitForStatus, type BenchContext } from '../context';
import { auditBreakdown, phaseFigures, round, throttledTotal } from '../measurement';
import { activitySpan, fetchChain, temporalCost } from '../temporal-cost';
import type { CeilingMeasurement, ScenarioResult, WorkerMemory } from '../types';

export interface InventoryOutcome {
  result: ScenarioResult;
  ceilings: CeilingMeasurement[];
}

/** Seed spec with the store's keys spread evenly through the account, as in a real one (ListKeys is in creation order). */
export function interleavedKeys(store: string, accountKeys: number, storeKeys: number): SeedKeys[] {
  const slices = Math.min(storeKeys, 100);
  const specs: SeedKeys[] = [];
  let placedStore = 0;
  let placedOther = 0;
  const otherKeys = accountKeys - storeKeys;
  for (let i = 1; i <= slices; i++) {
    const s = Math.round((storeKeys * i) / slices) - placedStore;
    const o = Math.round((otherKeys * i) / slices) - placedOther;
    if (s > 0) specs.push({ count: s, customKeyStoreId: store, keyState: 'Enabled' });
    if (o > 0) specs.push({ count: o, keyState: 'Enabled' });
    placedStore += s;
    placedOther += o;
  }
  return specs;
}

export async function runInventory(ctx: BenchContext): Promise<InventoryOutcome> {
  const { cfg } = ctx;
  const accountKeys = cfg.sizes.inventoryAccountKeys;
  const storeKeys = cfg.sizes.inventoryStoreKeys;
  const store = storeId('inventory', 1);
  const quotaScale = Math.min(1, cfg.quotaScale);
  const env = await openEnvironment(ctx, 'inventory', { dayMs: 86_400_000, worker: false, quotaScale });
  let result: ScenarioResult;
  const ceilings: CeilingMeasurement[] = [];
  let memory: WorkerMemory | undefined;
  const threads = Number(cfg.workerEnv?.KMS_DESCRIBE_THREADS ?? 1);
  try {
    const seedStart = performance.now();
    await env.emulator.admin.seed({ stores: [{ id: store, name: 'bench-inventory', connectionState: 'CONNECTED' }] });
    const seeded = await env.emulator.admin.seed({ keys: interleavedKeys(store, accountKeys, storeKeys) });
    ctx.log(
      `  seeded ${accountKeys.toLocaleString('en-US')} keys (${storeKeys.toLocaleString('en-US')} in the store) in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
    );
    await env.applyLatency();

    // The ceiling is measured before the worker exists, so nothing else competes for the CPU.
    const sample = seeded.keyIds.flat().filter((_, i) => i % 17 === 0);
    // One SDK client process is bound by its own JavaScript thread; two show what the emulator can serve.
    for (const processes of [1, 2]) {
      const c = await measureDescribeCeiling(env.emulator, sample, 128, cfg.sizes.ceilingSeconds, quotaScale, processes);
      ceilings.push(c);
      ctx.log(
        `  emulator ceiling: ${c.perSecond} DescribeKey/s with ${c.concurrency} in flight from ${processes} client process(es) (p50 ${c.p50Ms} ms, p99 ${c.p99Ms} ms)`,
      );
    }
    const seqBefore = await auditMark(env.emulator.admin);

    const profileDir = cfg.profileWorker ? await mkdtemp(path.join(ctx.logDir, 'inventory-cpu-')) : undefined;
    const worker = await env.startWorker(profileDir ? `--cpu-prof --cpu-prof-dir=${profileDir}` : undefined);
    const cpu0 = { worker: worker.cpuSeconds(), emulator: env.emulator.cpuSeconds() };
    const t0 = Date.now();
    const started = await env.decommissions.startDecommission(benchInput(store, { dryRun: true }));
    const status = await waitForStatus(env.decommissions, store, inPhase('DRY_RUN_COMPLETE'), 3_600_000, 'DRY_RUN_COMPLETE', 1_000);
    const totalSeconds = (Date.now() - t0) / 1000;
    const cpu1 = { worker: worker.cpuSeconds(), emulator: env.emulator.cpuSeconds() };
    const runs = await fetchChain(ctx.client, started.workflowId, started.runId as string);
    const span = activitySpan(runs, 'inventoryScan');
    if (!span) throw new Error('no completed inventoryScan activity in the history');
    const audit = await env.emulator.admin.audit({ sinceSeq: seqBefore });
    memory = await env.stopWorker();
    const profile = profileDir ? await summariseCpuProfile(profileDir) : undefined;
    // Once more after the run, with the worker gone: on a busy machine a single measurement can land in a dip.
    const after = await measureDescribeCeiling(env.emulator, sample, 128, cfg.sizes.ceilingSeconds, quotaScale, 2);
    ceilings.push(after);
    ctx.log(
      `  emulator ceiling after the run: ${after.perSecond} DescribeKey/s with ${after.concurrency} in flight from 2 client processes (p50 ${after.p50Ms} ms, p99 ${after.p99Ms} ms)`,
    );
    const describe = phaseFigures(audit, 'DescribeKey');
    const admitted = audit
      .filter((e) => e.operation === 'DescribeKey' && e.outcome === 'OK')
      .map((e) => e.admittedAt ?? e.time)
      .sort((a, b) => a - b);
    let gaps = 0;
    let gapSeconds = 0;
    for (let i = 1; i < admitted.length; i++) {
      const gap = admitted[i] - admitted[i - 1];
      if (gap > 25) {
        gaps++;
        gapSeconds += gap / 1000;
      }
    }
    const wallSeconds = (span.end - span.start) / 1000;
    const quota = scaledQuota('DescribeKey', quotaScale);
    const boundSeconds = accountKeys / quota;
    const best = Math.max(...ceilings.map((c) => c.perSecond));
    const limit = Math.min(quota, best);
    const achieved = accountKeys / wallSeconds;
    const againstCeiling = best < quota;
    const inventoried = status.counts.inventoried;
    result = {
      name: 'inventory',
      title: `Inventory (dry run): ${accountKeys.toLocaleString('en-US')} account keys, ${storeKeys.toLocaleString('en-US')} in the store`,
      approach: 'workflow',
      operation: 'DescribeKey',
      keys: accountKeys,
      wallSeconds: round(wallSeconds, 2),
      boundSeconds: round(boundSeconds, 2),
      achievedRatePerQuota: round(achieved / quota),
      achievedPerSecond: round(achieved, 1),
      quotaPerSecond: quota,
      throttled: throttledTotal(audit),
      failedCalls: accountKeys - describe.distinctKeys,
      errors: describe.errors,
      maxCallsInAnySecond: describe.maxInAnySecond,
      totalSeconds: round(totalSeconds, 1),
      temporal: temporalCost(runs, inventoried),
      targets: [
        {
          description: `≥ 90% of ${againstCeiling ? `the emulator's measured ceiling (${best}/s, below the ${quota}/s quota)` : `the DescribeKey quota (${quota}/s)`}: ${round((100 * achieved) / limit, 1)}%`,
          met: achieved >= 0.9 * limit,
        },
        { description: `all ${storeKeys} store keys found`, met: inventoried === storeKeys },
      ],
      notes: [
        `CPU per DescribeKey during the run: worker ${round((1000 * (cpu1.worker - cpu0.worker)) / Math.max(1, describe.ok), 2)} ms (all threads: ${round((cpu1.worker - cpu0.worker) / wallSeconds, 2)} of a core), emulator ${round((1000 * (cpu1.emulator - cpu0.emulator)) / Math.max(1, describe.ok), 2)} ms (${round((cpu1.emulator - cpu0.emulator) / wallSeconds, 2)} of a core).`,
        `Wall time from the first inventoryScan scheduled to the last completed (history timestamps), ${span.count} activities, ${round(span.handoffMs / 1000, 2)} s of it between one activity's completion and the next one's scheduling; DescribeKey ${describe.ok.toLocaleString('en-US')} calls between ${describe.seconds.toFixed(1)} s of first and last, ${round(gapSeconds, 2)} s of it in ${gaps} gaps of over 25 ms without a call.`,
        `Emulator ceiling ${best}/s (best of ${ceilings.map((c) => `${c.perSecond}/s from ${c.processes ?? 1} client process(es)`).join(', ')}); the worker keeps ${DEFAULT_DESCRIBE_CONCURRENCY} DescribeKey in flight per scan and sends them from ${threads} worker thread(s) (KMS_DESCRIBE_THREADS), paced at ${cfg.utilization} × the ${quota}/s quota.`,
      ],
      extra: {
        // CPU per DescribeKey: on a 2-core machine, worker + emulator CPU per call bounds the rate (~2 / sum).
        workerCpuMsPerCall: round((1000 * (cpu1.worker - cpu0.worker)) / Math.max(1, describe.ok), 3),
        emulatorCpuMsPerCall: round((1000 * (cpu1.emulator - cpu0.emulator)) / Math.max(1, describe.ok), 3),
        workerCpuShare: round((cpu1.worker - cpu0.worker) / wallSeconds, 2),
        emulatorCpuShare: round((cpu1.emulator - cpu0.emulator) / wallSeconds, 2),
        ...(profile ? { workerProfile: JSON.stringify(profile.shares) } : {}),
        ceilingPerSecond: best,
        describeGaps: gaps,
        describeGapSeconds: round(gapSeconds, 2),
        handoffSeconds: round(span.handoffMs / 1000, 2),
        describeThreads: threads,
        inventoryQuotaScale: quotaScale,
        judgedAgainst: againstCeiling ? 'emulator ceiling' : 'DescribeKey quota',
        achievedPerLimit: round(achieved / limit),
        storeKeysFound: inventoried,
        ...auditBreakdown(audit),
      },
    };
  } finally {
    await env.close();
  }
  result.worker = memory;
  return { result, ceilings };
}
