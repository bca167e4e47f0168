/**
 * Issue 11, "show the cost of one check": one attempted-use check (the `findAttemptedUse` activity, run in
 * `@temporalio/testing`'s MockActivityEnvironment with the real KMS and CloudTrail SDK clients against the
 * emulator process) for stores of 30 and of 16,666 keys, with each lookup strategy (`per-key`,
 * `account-wide`, `auto`), in a quiet and in a busy account, over the window the workflow checks by
 * default: `usageCheckInterval` + `cloudTrailDeliveryLag` (15 + 20 = 35 minutes of events).
 *
 * The window is filled faster than real time. Both stores live in one emulated account. Per store, one key
 * is disabled (DisableKey) and one scheduled for deletion (ScheduleKeyDeletion), each with a usage simulator
 * calling it every 2 real seconds, so the window holds DisabledException and KMSInvalidStateException
 * entries for both stores (each store's check must keep its own and drop the other's). The busy account
 * adds background simulators on default-store keys (Encrypt + Decrypt every 100 real ms each) until the
 * configured number of KMS events exists. Meanwhile the bench advances the emulated clock in proportion
 * to the events generated (the quiet account: to the real time elapsed), so they spread evenly over 35
 * emulated minutes; the simulators stop before the window's end and the clock moves past it, so every case
 * reads the same, closed window. Every figure comes from the activity's own `cost` and the emulator's audit
 * and stats; the window's contents from the emulator's CloudTrail store (no quota).
 *
 * Cases run at CloudTrail's real LookupEvents quota (2/s, paced at 0.97 × by the activity's limiter) with
 * the bench latency, except the per-key lookups of the large store: 16,666+ sequential calls would take
 * ~2.3 h at 2/s, so they run at a raised quota (the emulator's override and the limiter's, together) without
 * injected latency, and are reported by their call count and the time it implies at 2/s.
 */
import { DescribeKeyCommand, DisableKeyCommand, ScheduleKeyDeletionCommand, type KMSClient } from '@aws-sdk/client-kms';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { CLOUDTRAIL_DEFAULT_QUOTAS, createCloudTrailClient, createKmsClient, createKmsRateLimiter, type ActivityDeps } from '../../src/activities';
import { createUsageActivities } from '../../src/activities/usage';
import type { CloudTrailAdminEvent } from '../../src/emulator';
import {
  PER_KEY_LOOKUP_MAX_KEYS,
  ATTEMPTED_USE_ERROR_CODES,
  CRYPTOGRAPHIC_OPERATIONS,
  type FindAttemptedUseInput,
  type FindAttemptedUseResult,
  type LookupStrategy,
} from '../../src/shared/usage';
import { DEFAULTS } from '../../src/shared/validation';
import { openEnvironment, storeId, type BenchContext, type Environment } from '../context';
import { phaseFigures, round } from '../measurement';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION } from '../processes';
import type { ScenarioResult, TargetCheck } from '../types';

/** The default check's window: events since the previous check (15 min) plus the delivery lag (20 min). */
export const USAGE_WINDOW_MS = DEFAULTS.timing.usageCheckInterval + DEFAULTS.timing.cloudTrailDeliveryLag;
/** CloudTrail's LookupEvents quota (requests per second, account-wide, not adjustable). */
const REAL_LOOKUP_QUOTA = CLOUDTRAIL_DEFAULT_QUOTAS.LookupEvents;
/** The raised LookupEvents quota of the per-key cases that would take hours at the real one. */
export const RAISED_LOOKUP_QUOTA = 1_000;
/** Per-key cases with more keys than this run at the raised quota (600 calls = 5 minutes at 2/s). */
const REAL_QUOTA_MAX_LOOKUPS = 600;
const STRATEGIES: readonly LookupStrategy[] = ['per-key', 'account-wide', 'auto'];
/** Emulated day = a real day: the 35-minute advance must not end the pending key's 7-day waiting period. */
const DAY_MS = 86_400_000;
/** Background traffic of the busy account: default-store keys, each with a simulator (Encrypt + Decrypt) every 100 ms. */
const BACKGROUND_KEYS = 16;
const BACKGROUND_EVERY_MS = 100;
/** The store keys' simulators: one failed Encrypt every 2 s (no Decrypt follows a failed Encrypt). */
const STORE_USE_EVERY_MS = 2_000;
/** Real seconds the quiet account's store-key simulators run (a few failed calls per key). */
const QUIET_SECONDS = 6;
/** Generated events stop this long (emulated) before the window's end: room for the simulators' last rounds. */
const TAIL_MS = 60_000;
const MAX_FINDINGS = 100_000;

type Traffic = 'quiet' | 'busy';

interface StoreUnderTest {
  id: string;
  keys: number;
  keyArns: string[];
  /** Event ids of the window's attempted uses of this store's keys, from the emulator's CloudTrail store. */
  expected: Set<string>;
}

interface Window {
  startTime: number;
  endTime: number;
  /** KMS events (`eventSource` kms.amazonaws.com) in the window. */
  kmsEvents: number;
  /** Attempted uses (any key) in the window. */
  attemptedUses: number;
  generationSeconds: number;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Builds the account: two stores, two keys of each made unusable and used anyway, and (busy) background traffic; fills the window. */
async function fillWindow(
  ctx: BenchContext,
  env: Environment,
  kms: KMSClient,
  traffic: Traffic,
  stores: StoreUnderTest[],
  backgroundKeyIds: string[],
  busyEvents: number,
): Promise<Window> {
  const admin = env.emulator.admin;
  // Nothing before the window: the setup's own calls (the ARN lookup) are a few emulated seconds older.
  await admin.advance(5_000);
  const startTime = Math.floor((await admin.now()).nowMs / 1000) * 1000;
  const endTime = startTime + USAGE_WINDOW_MS;
  const eventsAtStart = (await admin.cloudTrail()).events;
  const t0 = Date.now();
  for (const [s, store] of stores.entries()) {
    const [disabled, pending] = store.keyArns;
    await kms.send(new DisableKeyCommand({ KeyId: disabled }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: pending, PendingWindowInDays: 7 }));
    await admin.startUsage({ keyId: disabled, everyMs: STORE_USE_EVERY_MS, principal: 'legacy-batch-job', sourceAddress: `127.0.${s + 1}.10` });
    await admin.startUsage({ keyId: pending, everyMs: STORE_USE_EVERY_MS, principal: 'nightly-report', sourceAddress: `127.0.${s + 1}.20` });
  }
  if (traffic === 'busy') {
    for (const [i, keyId] of backgroundKeyIds.entries()) {
      await admin.startUsage({ keyId, everyMs: BACKGROUND_EVERY_MS, principal: `service-${i % 4}`, sourceAddress: `127.0.9.${i + 1}` });
    }
  }
  // Spread what is generated over the window: the emulated clock follows the share of the work done.
  const span = USAGE_WINDOW_MS - TAIL_MS;
  let lastLog = Date.now();
  for (;;) {
    await sleep(200);
    const generated = (await admin.cloudTrail()).events - eventsAtStart;
    const progress = Math.min(1, traffic === 'busy' ? generated / busyEvents : (Date.now() - t0) / (QUIET_SECONDS * 1000));
    const now = (await admin.now()).nowMs;
    const target = startTime + Math.floor(progress * span);
    if (target > now) await admin.advance(target - now);
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      ctx.log(`  ${traffic}: ${int(generated)} events generated, emulated clock at +${((Math.max(now, target) - startTime) / 60_000).toFixed(1)} min`);
    }
    if (progress >= 1) break;
  }
  await admin.stopAllUsage();
  const now = (await admin.now()).nowMs;
  if (now >= endTime) throw new Error(`generating the ${traffic} window overran it (emulated clock ${now - endTime} ms past its end)`);
  // Close the window: the checks' own calls (DescribeKey, LookupEvents) land after it.
  await admin.advance(endTime + 2_000 - now);
  const generationSeconds = (Date.now() - t0) / 1000;

  const inWindow = (e: CloudTrailAdminEvent) => {
    const at = Date.parse(String(e.record.eventTime));
    return at >= startTime && at <= endTime;
  };
  const events = (await admin.cloudTrailEvents(0)).filter(inWindow);
  const kmsEvents = events.filter((e) => e.record.eventSource === 'kms.amazonaws.com');
  let attemptedUses = 0;
  const storeOf = new Map<string, StoreUnderTest>(stores.flatMap((s) => s.keyArns.map((arn) => [arn, s] as const)));
  for (const e of kmsEvents) {
    const r = e.record as { eventID?: string; eventName?: string; errorCode?: string; resources?: { ARN?: string }[] };
    if (!r.eventID || !CRYPTOGRAPHIC_OPERATIONS.includes(r.eventName ?? '') || !ATTEMPTED_USE_ERROR_CODES.includes(r.errorCode ?? '')) continue;
    attemptedUses++;
    const store = r.resources?.map((x) => x.ARN && storeOf.get(x.ARN)).find(Boolean);
    if (store) store.expected.add(r.eventID);
  }
  return { startTime, endTime, kmsEvents: kmsEvents.length, attemptedUses, generationSeconds };
}

interface CaseFigures {
  result: FindAttemptedUseResult;
  quota: number;
  latency: boolean;
  throttled: number;
  maxInAnySecond: number;
  lookupPerSecond: number;
}

/**
 * One check, as the worker runs it: the activity built over `deps`, whose limiter is shared by every case
 * at the same quota (like the worker's, one per process), so back-to-back checks stay under the quota together.
 */
async function runCase(env: Environment, deps: ActivityDeps, input: FindAttemptedUseInput, quota: number): Promise<CaseFigures> {
  const admin = env.emulator.admin;
  const activities = createUsageActivities(deps);
  const before = await admin.stats();
  const mark = Object.values(before.requests).reduce((a, b) => a + b, 0);
  const mock = new MockActivityEnvironment({ activityType: 'findAttemptedUse' }, { logger: new DefaultLogger('ERROR') });
  const result = (await mock.run(activities.findAttemptedUse, input)) as FindAttemptedUseResult;
  const after = await admin.stats();
  const lookups = await admin.audit({ sinceSeq: mark, operation: 'LookupEvents' });
  const figures = phaseFigures(lookups, 'LookupEvents');
  return {
    result,
    quota,
    latency: false,
    throttled: (after.throttled.LookupEvents ?? 0) - (before.throttled.LookupEvents ?? 0),
    maxInAnySecond: figures.maxInAnySecond,
    lookupPerSecond: figures.perSecond,
  };
}

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size === b.size && [...a].every((x) => b.has(x));

export async function runUsageCheck(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { cfg } = ctx;
  const sizes = cfg.sizes.usageCheckStoreKeys;
  const busyEvents = cfg.sizes.usageCheckBusyEvents;
  const rows: ScenarioResult[] = [];
  for (const traffic of ['quiet', 'busy'] as const) {
    const env = await openEnvironment(ctx, `usage-check-${traffic}`, { dayMs: DAY_MS, worker: false, quotaScale: 1 });
    const kms = createKmsClient({ endpoint: env.emulator.url, region: EMULATOR_REGION, credentials: EMULATOR_CREDENTIALS });
    const cloudTrail = createCloudTrailClient({ endpoint: env.emulator.url, region: EMULATOR_REGION, credentials: EMULATOR_CREDENTIALS });
    const realDeps: ActivityDeps = { kms, cloudTrail, limiter: createKmsRateLimiter({ quotaScale: 1, utilization: cfg.utilization }) };
    const raisedDeps: ActivityDeps = {
      kms,
      cloudTrail,
      limiter: createKmsRateLimiter({ quotaScale: 1, utilization: cfg.utilization, overrides: { LookupEvents: RAISED_LOOKUP_QUOTA * cfg.utilization } }),
    };
    try {
      const admin = env.emulator.admin;
      const stores: StoreUnderTest[] = sizes.map((keys, i) => ({ id: storeId('usage-check', i + 1), keys, keyArns: [], expected: new Set() }));
      await admin.seed({ stores: stores.map((s) => ({ id: s.id, name: `bench-usage-${s.keys}`, connectionState: 'CONNECTED' as const })) });
      const seeded = await admin.seed({
        keys: [...stores.map((s) => ({ count: s.keys, customKeyStoreId: s.id, keyState: 'Enabled' as const })), { count: BACKGROUND_KEYS }],
      });
      const arn = (await kms.send(new DescribeKeyCommand({ KeyId: seeded.keyIds[0][0] }))).KeyMetadata?.Arn ?? '';
      const arnPrefix = arn.slice(0, arn.lastIndexOf('/') + 1);
      for (const [i, s] of stores.entries()) s.keyArns = seeded.keyIds[i].map((id) => `${arnPrefix}${id}`);
      const background = seeded.keyIds[stores.length];

      const window = await fillWindow(ctx, env, kms, traffic, stores, background, busyEvents);
      const totalExpected = stores.reduce((a, s) => a + s.expected.size, 0);
      const trafficLabel = `${traffic} account, ${int(window.kmsEvents)} KMS events in the 35-min window`;
      const perStore = `per store one key disabled (DisableKey) and one scheduled for deletion (ScheduleKeyDeletion), each called by a usage simulator every ${STORE_USE_EVERY_MS / 1000} s real (failed Encrypt)`;
      const windowContents =
        traffic === 'quiet'
          ? `Quiet account: only the stores' own events, ${perStore}, for ${window.generationSeconds.toFixed(1)} s real: ${int(window.kmsEvents)} KMS events in the window, ${window.attemptedUses} of them attempted uses.`
          : `Busy account: the same, plus ${BACKGROUND_KEYS} usage simulators on other (default-store) keys of the account, Encrypt + Decrypt every ${BACKGROUND_EVERY_MS} ms real each, until the window held ${int(window.kmsEvents)} KMS events (${window.generationSeconds.toFixed(1)} s real; over 35 minutes an account averaging ${(window.kmsEvents / (USAGE_WINDOW_MS / 1000)).toFixed(1)} KMS calls/s), ${window.attemptedUses} of them attempted uses.`;
      ctx.log(
        `  ${traffic}: window ${new Date(window.startTime).toISOString()} → ${new Date(window.endTime).toISOString()} (emulated) holds ${int(window.kmsEvents)} KMS events, ${window.attemptedUses} attempted uses (${stores.map((s) => `${s.expected.size} on the ${int(s.keys)}-key store`).join(', ')}); generated in ${window.generationSeconds.toFixed(1)} s real`,
      );
      if (totalExpected === 0) throw new Error(`the ${traffic} window holds no attempted use of the stores' keys`);

      // Cases at the real quota first (with the bench latency), then the raised-quota per-key cases.
      const plan = stores.flatMap((store) =>
        STRATEGIES.map((strategy) => ({ store, strategy, raised: strategy === 'per-key' && store.keys > REAL_QUOTA_MAX_LOOKUPS })),
      );
      plan.sort((a, b) => Number(a.raised) - Number(b.raised));
      await env.applyLatency();
      const done: { store: StoreUnderTest; strategy: LookupStrategy; figures: CaseFigures }[] = [];
      let latencyOn = true;
      for (const { store, strategy, raised } of plan) {
        if (raised && latencyOn) {
          // 16,666 sequential calls: without the injected latency and at a raised quota, the count is what is measured.
          await admin.clearFaults();
          await admin.setQuotaOverrides({ LookupEvents: RAISED_LOOKUP_QUOTA });
          latencyOn = false;
        }
        const keyArns = strategy === 'per-key' || (strategy === 'auto' && store.keys <= PER_KEY_LOOKUP_MAX_KEYS) ? store.keyArns : undefined;
        const input: FindAttemptedUseInput = {
          customKeyStoreId: store.id,
          ...(keyArns ? { keyArns } : {}),
          startTime: window.startTime,
          endTime: window.endTime,
          strategy,
          maxFindings: MAX_FINDINGS,
        };
        const figures = await runCase(env, raised ? raisedDeps : realDeps, input, raised ? RAISED_LOOKUP_QUOTA : REAL_LOOKUP_QUOTA);
        figures.latency = latencyOn;
        const c = figures.result.cost;
        ctx.log(
          `  ${traffic} ${int(store.keys)} keys ${strategy}${strategy === 'auto' ? ` (ran ${c.strategy})` : ''}: ${int(c.lookupCalls)} LookupEvents, ${int(c.eventsRead)} events read, ${c.describeCalls} DescribeKey, ${figures.result.total} findings, ${(c.elapsedMs / 1000).toFixed(1)} s at ${int(figures.quota)}/s (${(c.lookupCalls / REAL_LOOKUP_QUOTA / 60).toFixed(1)} min at 2/s), ${figures.throttled} throttled`,
        );
        done.push({ store, strategy, figures });
      }
      await admin.setQuotaOverrides({});

      for (const store of stores) {
        const mine = done.filter((d) => d.store === store);
        const sets = mine.map((d) => new Set(d.figures.result.findings.map((f) => f.eventId)));
        const allEqual = sets.every((s) => sameSet(s, sets[0]));
        for (const { strategy, figures } of mine) {
          const r = figures.result;
          const c = r.cost;
          const found = new Set(r.findings.map((f) => f.eventId));
          const impliedSeconds = c.lookupCalls / REAL_LOOKUP_QUOTA;
          const raised = figures.quota !== REAL_LOOKUP_QUOTA;
          const targets: TargetCheck[] = [
            {
              description: `findings equal the window's attempted uses of the store's keys (${store.expected.size}) and every strategy's: ${found.size} found${allEqual ? ', same set for all three' : ', SETS DIFFER between strategies'}`,
              met: sameSet(found, store.expected) && allEqual && r.total === found.size,
            },
            { description: `0 throttled LookupEvents at ${int(figures.quota)}/s: ${figures.throttled}`, met: figures.throttled === 0 },
          ];
          if (c.strategy === 'account-wide') {
            targets.push({
              description: `the account-wide window read every KMS event of the window once: ${int(c.eventsRead)} of ${int(window.kmsEvents)}`,
              met: c.eventsRead === window.kmsEvents,
            });
          }
          const notes = [
            raised
              ? `Ran at a raised LookupEvents quota of ${int(figures.quota)}/s (emulator override and limiter) without injected latency: ${int(c.lookupCalls)} calls measured; at the real 2/s they take ${(impliedSeconds / 3600).toFixed(2)} h (calls ÷ 2).`
              : `Ran at the real LookupEvents quota (2/s, paced at ${cfg.utilization} × quota) with ${cfg.latencyMs}+${cfg.jitterMs} ms latency per request.`,
          ];
          rows.push({
            name: `usage-check-${traffic}-${store.keys}-${strategy}`,
            title: `Attempted-use check: ${int(store.keys)} keys, ${trafficLabel}, ${strategy}${strategy === 'auto' ? ` (ran ${c.strategy}${store.keys > PER_KEY_LOOKUP_MAX_KEYS ? ', no key ARNs as the workflow calls it' : ''})` : ''}`,
            approach: 'activity',
            operation: 'LookupEvents',
            keys: store.keys,
            wallSeconds: round(c.elapsedMs / 1000, 2),
            boundSeconds: round(c.lookupCalls / figures.quota, 2),
            achievedRatePerQuota: round(figures.lookupPerSecond / figures.quota),
            achievedPerSecond: round(figures.lookupPerSecond, 2),
            quotaPerSecond: figures.quota,
            throttled: figures.throttled,
            failedCalls: 0,
            errors: 0,
            maxCallsInAnySecond: figures.maxInAnySecond,
            targets,
            notes,
            extra: {
              traffic,
              strategy,
              ranAs: c.strategy,
              keyArnsGiven: strategy === 'per-key' || (strategy === 'auto' && store.keys <= PER_KEY_LOOKUP_MAX_KEYS),
              lookupCalls: c.lookupCalls,
              eventsRead: c.eventsRead,
              describeCalls: c.describeCalls,
              elapsedMs: c.elapsedMs,
              findings: r.total,
              expectedFindings: store.expected.size,
              impliedSecondsAtRealQuota: round(impliedSeconds, 1),
              raisedQuota: raised,
              latency: figures.latency,
              windowMs: USAGE_WINDOW_MS,
              windowStart: new Date(window.startTime).toISOString(),
              windowEnd: new Date(window.endTime).toISOString(),
              windowKmsEvents: window.kmsEvents,
              windowAttemptedUses: window.attemptedUses,
              windowGenerationSeconds: round(window.generationSeconds, 1),
              backgroundSimulators: traffic === 'busy' ? BACKGROUND_KEYS : 0,
              backgroundEveryMs: BACKGROUND_EVERY_MS,
              storeUseEveryMs: STORE_USE_EVERY_MS,
              windowContents,
            },
          });
        }
      }
    } finally {
      kms.destroy();
      cloudTrail.destroy();
      await env.close();
    }
  }
  return rows;
}
