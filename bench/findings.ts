/**
 * Plain-language findings derived from a run's figures: where the workflow falls short of a target and
 * which part of the code or setup is responsible. Regenerated on every render, so a re-run on a quiet
 * machine explains its own numbers.
 */
import type { BenchResults, ScenarioResult } from './types';

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const int = (x: number): string => Math.round(x).toLocaleString('en-US');

function inventoryFinding(r: ScenarioResult): string {
  const ceiling = Number(r.extra?.ceilingPerSecond ?? NaN);
  const limit = Math.min(r.quotaPerSecond, Number.isFinite(ceiling) ? ceiling : Infinity);
  const judged = r.extra?.judgedAgainst ?? 'quota';
  const threads = Number(r.extra?.describeThreads ?? NaN);
  const lines = [
    // Against the quota, the table's own ratio (so the two never disagree in the last digit).
    `Inventory reached ${int(r.achievedPerSecond)} DescribeKey/s: ${pct(limit < r.quotaPerSecond ? r.achievedPerSecond / limit : r.achievedRatePerQuota)} of the ${judged} (${int(limit)}/s)` +
      (limit < r.quotaPerSecond ? `, ${pct(r.achievedRatePerQuota)} of the ${int(r.quotaPerSecond)}/s quota.` : '.'),
  ];
  if (Number.isFinite(ceiling) && ceiling < r.quotaPerSecond) {
    lines.push(
      `On this machine the emulator itself cannot serve the ${int(r.quotaPerSecond)}/s quota (best measured ${int(ceiling)}/s), so the quota bound is not reachable here.`,
    );
  }
  const workerMs = Number(r.extra?.workerCpuMsPerCall ?? NaN);
  const workerShare = Number(r.extra?.workerCpuShare ?? NaN);
  if (Number.isFinite(workerMs) && workerMs > 0) {
    lines.push(
      `The worker process used ${workerMs.toFixed(2)} CPU-ms per DescribeKey over all its threads (${workerShare.toFixed(2)} cores busy; the emulator ${Number(r.extra?.emulatorCpuMsPerCall ?? NaN).toFixed(2)} ms per call)` +
        (Number.isFinite(threads)
          ? threads > 0
            ? `; DescribeKey went out from ${threads} worker thread(s) (KMS_DESCRIBE_THREADS) while the main thread paced, capped and retried the calls.`
            : `; every call was built, signed and parsed on the activity thread (KMS_DESCRIBE_THREADS=0), where one JavaScript thread sets the ceiling.`
          : '.'),
    );
  }
  if (typeof r.extra?.workerProfile === 'string') {
    const shares = JSON.parse(r.extra.workerProfile) as Record<string, number>;
    lines.push(
      `A CPU profile of the worker's main thread (--profile-worker): ${Object.entries(shares)
        .map(([k, v]) => `${k} ${pct(v)}`)
        .join(', ')}.`,
    );
  }
  return lines.join(' ');
}

function mutationFinding(r: ScenarioResult, utilization: number): string | undefined {
  const measured = r.extra?.pauses !== undefined;
  const pauses = Number(r.extra?.pauses ?? 0);
  const pauseSeconds = Number(r.extra?.pauseSeconds ?? 0);
  const pauseShare = r.wallSeconds > 0 ? pauseSeconds / r.wallSeconds : 0;
  if (r.achievedRatePerQuota < 0.95) {
    let why = '';
    if (!measured) why = ' (this results file has no pause analysis; re-run to get it)';
    else if (pauses > 0) {
      why = ` Between pauses the calls ran at ${pct(Number(r.extra?.steadyRatePerQuota ?? NaN))} of the quota; ${pauses} pauses (batch activity hand-offs through Temporal: the previous batch's verification reads, the workflow task, the next activity's start) cost ${pauseSeconds.toFixed(1)} s = ${pct(pauseShare)} of the phase.`;
    } else
      why =
        " No long pauses were seen: the calls themselves ran slower than the pace (a busy machine delaying the worker's timers, or too few calls in flight for the latency).";
    return `${r.name}: ${pct(r.achievedRatePerQuota)} of the ${r.operation} quota, below the 95% target. The worker paces at ${utilization} × quota, so only ${pct(utilization - 0.95)} of the quota is left to absorb every pause and delay.${why}`;
  }
  if (pauses > 0 && pauseShare > 0.005) {
    return `${r.name}: ${pct(r.achievedRatePerQuota)} of the quota; ${pauses} pauses between calls (batch hand-offs) cost ${pct(pauseShare)} of the phase.`;
  }
  return undefined;
}

/** One finding for every row whose busiest second exceeded the quota. */
function windowFinding(results: BenchResults): string | undefined {
  const over = results.scenarios.filter((r) => r.approach === 'workflow' && r.maxCallsInAnySecond !== undefined && r.maxCallsInAnySecond > r.quotaPerSecond);
  if (!over.length) return undefined;
  return (
    `Busiest 1 s window above the quota: ${over.map((r) => `${r.name} ${r.maxCallsInAnySecond} vs ${r.quotaPerSecond}/s (${r.throttled} throttled)`).join('; ')}. ` +
    `Windows are counted on the emulator's admission times (when a request is charged to its quota), and the worker's limiter grants at most ⌈quota × utilization⌉ calls in any rolling second, ` +
    `so an excess here means calls granted a second apart reached the emulator closer together (the worker's or the emulator's event loop ran late on a busy machine).`
  );
}

function rssFinding(r: ScenarioResult, results: BenchResults): string | undefined {
  if (!r.worker || r.targets.every((t) => t.met)) return undefined;
  const inventoryPeak = Number(r.extra?.peakRssInventoryMiB ?? NaN);
  const held = Number(r.extra?.rssAllAwaitingApprovalMiB ?? NaN);
  return (
    `${r.name}: worker peak RSS ${int(r.worker.peakRssMiB)} MiB (${int(r.worker.startRssMiB)} MiB at start${Number.isFinite(inventoryPeak) ? `, ${int(inventoryPeak)} MiB while all runs inventoried at once, ${int(held)} MiB held afterwards` : ''}), ` +
    `node flags: ${results.workerNodeFlags || 'none'}. The worker already caps activity slots (20), KMS requests in flight (128) and cached runs (100); ` +
    `without a heap limit V8 lets short-lived SDK garbage pile up before a full GC, which the worker image's NODE_OPTIONS prevents.`
  );
}

function costFinding(results: BenchResults): string | undefined {
  const withCost = results.scenarios.filter((r) => r.temporal && r.approach === 'workflow' && r.name !== 'inventory');
  const biggest = withCost.sort((a, b) => b.keys - a.keys)[0];
  if (!biggest?.temporal) return undefined;
  const t = biggest.temporal;
  return (
    `Temporal cost of the largest run (${biggest.name}): ${int(t.historyEvents)} events (${t.eventsPerKey.toFixed(3)} per key, target ≤ 0.05), ${(t.historyBytes / 1e6).toFixed(1)} MB of history, ` +
    `largest payload ${(t.largestPayloadBytes / 1024).toFixed(0)} KiB, ${t.continuedAsNew} continue-as-new. ` +
    `A run costs about ${int(fixedEvents(results))} events whatever its size (preflight, inventory, approval, waiting, verification, disconnect, delete) and ${marginalEvents(results, biggest)} more per key, so the per-key target holds from roughly ${int(fixedEvents(results) / 0.04)} keys up. ` +
    `The biggest history items: ${Object.entries(t.byActivity)
      .sort((a, b) => b[1].payloadBytes - a[1].payloadBytes)
      .slice(0, 3)
      .map(([type, v]) => `${type} ${(v.payloadBytes / 1e6).toFixed(2)} MB in ${v.count} activities`)
      .join(', ')}.`
  );
}

/** Events per additional key: the slope between the smallest complete run and `big`. */
function marginalEvents(results: BenchResults, big: ScenarioResult): string {
  const small = results.scenarios.filter((r) => r.temporal && r.name.startsWith('worker-rss'))[0];
  const smallKeys = small ? small.keys / Math.max(1, Number(small.extra?.runs ?? 1)) : NaN;
  if (!small?.temporal || !big.temporal || !(big.keys > smallKeys)) return 'a few hundredths of an event';
  return `${((big.temporal.historyEvents - small.temporal.historyEvents) / (big.keys - smallKeys)).toFixed(3)} events`;
}

/** Events of the smallest complete run measured: the fixed part of a run's history. */
function fixedEvents(results: BenchResults): number {
  const small = results.scenarios.filter((r) => r.temporal && r.name.startsWith('worker-rss')).map((r) => r.temporal?.historyEvents ?? Infinity);
  return small.length ? Math.min(...small) : 70;
}

function baselineFinding(results: BenchResults): string | undefined {
  const seq = results.scenarios.find((r) => r.approach === 'sequential-sdk');
  const par = results.scenarios.find((r) => r.approach === 'parallel-10-sdk');
  const ours = results.scenarios.find((r) => r.approach === 'workflow' && r.operation === 'ScheduleKeyDeletion' && /^schedule-/.test(r.name));
  if (!seq && !par) return undefined;
  const parts: string[] = [];
  if (seq) {
    const perKeyMs = (1000 * seq.wallSeconds) / Math.max(1, seq.keys - 1);
    parts.push(
      `The sequential loop is latency-bound (${perKeyMs.toFixed(0)} ms per key: one DescribeKey and one ScheduleKeyDeletion round trip): ${pct(seq.achievedRatePerQuota)} of the scaled quota. ` +
        (1000 / perKeyMs > 15
          ? `It does not speed up with a bigger quota; at AWS's real 15/s it would try ${(1000 / perKeyMs).toFixed(1)} keys/s, faster than the quota, so it would be throttled (and throttle every other caller in the account).`
          : `It does not speed up with a bigger quota; at AWS's real 15/s it would reach ${pct(1000 / perKeyMs / 15)} of the quota.`),
    );
  }
  if (par) {
    parts.push(
      `Ten unthrottled calls in flight overshoot the quota from the first second (up to ${par.maxCallsInAnySecond} in 1 s against ${par.quotaPerSecond}/s): ${int(par.throttled)} throttled responses and ${int(par.failedCalls)} of ${int(par.keys)} keys left undone after the SDK's 3 attempts, which an operator must find and retry.`,
    );
  }
  if (ours)
    parts.push(
      `The workflow (${ours.name}): ${pct(ours.achievedRatePerQuota)} of the quota with ${int(ours.throttled)} throttled and ${int(ours.failedCalls)} failed.`,
    );
  return parts.join(' ');
}

export function deriveFindings(results: BenchResults): string[] {
  const out: string[] = [];
  const inventory = results.scenarios.find((r) => r.name === 'inventory');
  if (inventory) out.push(inventoryFinding(inventory));
  for (const r of results.scenarios) {
    if (r.approach !== 'workflow' || r.name === 'inventory' || r.name.startsWith('worker-rss')) continue;
    const f = mutationFinding(r, results.utilization);
    if (f) out.push(f);
  }
  for (const r of results.scenarios.filter((s) => s.name.startsWith('worker-rss'))) {
    const f = rssFinding(r, results);
    if (f) out.push(f);
  }
  const window = windowFinding(results);
  if (window) out.push(window);
  const cost = costFinding(results);
  if (cost) out.push(cost);
  const base = baselineFinding(results);
  if (base) out.push(base);
  return out;
}
