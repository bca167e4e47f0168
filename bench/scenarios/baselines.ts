/**
 * Scenario 6: what operators do today, against the same emulator, quotas and latency.
 * (a) AWS's documented approach: a loop, one DescribeKey then one ScheduleKeyDeletion at a time.
 * (b) cloud-nuke's approach: the same calls, 10 keys in flight, no limiter.
 * Both use the SDK's default retry (standard mode, 3 attempts); a key whose call still fails is left undone.
 */
import { DescribeKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION } from '../processes';
import { scaledQuota } from '../config';
import { auditMark, openEnvironment, storeId, type BenchContext, type Environment } from '../context';
import { auditBreakdown, phaseFigures, throttledTotal } from '../measurement';
import type { Approach, ScenarioResult } from '../types';
import { mutationResult } from './results';

/** An SDK client with the SDK's default retry (standard mode, 3 attempts), as both naive approaches use it. */
function defaultSdkClient(url: string): KMSClient {
  return new KMSClient({
    endpoint: url,
    region: EMULATOR_REGION,
    credentials: EMULATOR_CREDENTIALS,
    // Keep-alive like the worker's client, so connection setup does not count against the baselines.
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
  });
}

interface ClientOutcome {
  scheduled: number;
  failed: number;
  failures: Record<string, number>;
  seconds: number;
}

/** Describe, then schedule if the key is in the store and not already pending; a thrown error counts the key as failed. */
async function scheduleOne(kms: KMSClient, store: string, keyId: string, out: ClientOutcome): Promise<void> {
  try {
    const meta = (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    if (meta?.CustomKeyStoreId !== store || meta.KeyState === 'PendingDeletion') return;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    out.scheduled++;
  } catch (err) {
    out.failed++;
    const name = (err as Error).name;
    out.failures[name] = (out.failures[name] ?? 0) + 1;
  }
}

async function runClient(kms: KMSClient, store: string, keyIds: readonly string[], concurrency: number): Promise<ClientOutcome> {
  const out: ClientOutcome = { scheduled: 0, failed: 0, failures: {}, seconds: 0 };
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < keyIds.length) await scheduleOne(kms, store, keyIds[next++], out);
    }),
  );
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

async function seedBaseline(env: Environment, store: string, n: number): Promise<string[]> {
  await env.emulator.admin.seed({ stores: [{ id: store, name: 'bench-baseline', connectionState: 'CONNECTED' }] });
  const seeded = await env.emulator.admin.seed({ keys: [{ count: n, customKeyStoreId: store, keyState: 'Enabled' }] });
  await env.applyLatency();
  return seeded.keyIds[0];
}

export async function runBaselines(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { cfg } = ctx;
  const n = cfg.sizes.baselineKeys;
  const store = storeId('baseline', 1);
  const quota = scaledQuota('ScheduleKeyDeletion', cfg.quotaScale);
  const env = await openEnvironment(ctx, 'baselines', { dayMs: 86_400_000, worker: false });
  const results: ScenarioResult[] = [];
  try {
    const variants: { approach: Approach; concurrency: number; title: string }[] = [
      { approach: 'sequential-sdk', concurrency: 1, title: `Baseline (a): sequential SDK loop, ${n.toLocaleString('en-US')} keys` },
      { approach: 'parallel-10-sdk', concurrency: 10, title: `Baseline (b): 10 in flight, no limiter, ${n.toLocaleString('en-US')} keys` },
    ];
    for (const [i, v] of variants.entries()) {
      if (i > 0) await env.emulator.admin.reset();
      const keyIds = await seedBaseline(env, store, n);
      const mark = await auditMark(env.emulator.admin);
      const kms = defaultSdkClient(env.emulator.url);
      const outcome = await runClient(kms, store, keyIds, v.concurrency);
      kms.destroy();
      const audit = await env.emulator.admin.audit({ sinceSeq: mark });
      const result = mutationResult({
        name: `baseline-${v.approach}-${n}`,
        title: v.title,
        approach: v.approach,
        operation: 'ScheduleKeyDeletion',
        keys: n,
        quota,
        figures: phaseFigures(audit, 'ScheduleKeyDeletion', new Set(keyIds)),
        throttled: throttledTotal(audit),
        failedCalls: outcome.failed,
        totalSeconds: outcome.seconds,
        notes: [
          `${outcome.scheduled} of ${n} keys scheduled in ${outcome.seconds.toFixed(1)} s; ${outcome.failed} keys left undone after the SDK's 3 attempts${
            outcome.failed
              ? ` (${Object.entries(outcome.failures)
                  .map(([k, c]) => `${k} × ${c}`)
                  .join(', ')})`
              : ''
          }.`,
        ],
        extra: { scheduled: outcome.scheduled, ...auditBreakdown(audit) },
      });
      ctx.log(
        `  ${v.approach}: ${outcome.scheduled}/${n} scheduled in ${outcome.seconds.toFixed(1)} s, ${result.throttled} throttled, ${outcome.failed} failed`,
      );
      results.push(result);
    }
  } finally {
    await env.close();
  }
  return results;
}
