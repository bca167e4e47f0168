/**
 * findAttemptedUse and findDeletionEvidence against the emulator's CloudTrail (LookupEvents on the same
 * URL, through `@aws-sdk/client-cloudtrail`): applications still calling disabled and pending keys (the
 * emulator's usage simulators) are found by both strategies with their caller and source address, other
 * stores' keys and management-call errors are not, seen events are skipped, `auto` falls back to per-key
 * when the account's window is bigger than the store; KMS's DeleteKey service events of the store's keys are
 * found page by page; LookupEvents is paced under the emulator's real 2/s without a throttled call.
 */
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { ScheduleKeyDeletionCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createActivities, createKmsRateLimiter, type ActivityDeps } from '../../src/activities';
import type { RunningEmulator, UsageSimulatorInfo } from '../../src/emulator';
import type { FindAttemptedUseInput, FindAttemptedUseResult, FindDeletionEvidenceResult } from '../../src/shared/usage';
import { DAY_MS, keyArnOf, useSharedEmulator, waitFor } from '../emulator/helpers';
import { recordingEnv, rejection, seedStore, STORE } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
let trail: CloudTrailClient;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
  trail = new CloudTrailClient({ endpoint: started.url, region: started.region, credentials: started.credentials, maxAttempts: 1 });
});
afterAll(() => trail.destroy());

const OTHER_STORE = 'cks-activity0000002';

/** Activities with the CloudTrail client; unpaced unless `paced` (AWS's quotas, as in production). */
function activities(options: { paced?: boolean; deps?: Partial<ActivityDeps> } = {}) {
  return createActivities({ kms, cloudTrail: trail, limiter: createKmsRateLimiter(options.paced ? {} : { quotaScale: 0 }), ...options.deps });
}

async function findAttemptedUse(input: FindAttemptedUseInput, options: { paced?: boolean } = {}): Promise<FindAttemptedUseResult> {
  const { env } = recordingEnv();
  return (await env.run(activities(options).findAttemptedUse, input)) as FindAttemptedUseResult;
}

/** Emulated now, whole seconds down (CloudTrail's eventTime has whole seconds). */
async function nowSeconds(): Promise<number> {
  return Math.floor((await emu.admin.now()).nowMs / 1000) * 1000;
}

/** Seed fields of keys created a second ago and used (successfully) now: one CloudTrail event each. */
async function usedJustNow(): Promise<{ creationDate: number; lastUsage: { at: number } }> {
  const now = (await emu.admin.now()).nowMs;
  return { creationDate: now - 1000, lastUsage: { at: now } };
}

/** Runs a usage simulator on each key until each has failed `rounds` times, then stops them all. */
async function attemptUse(keys: { keyId: string; error: string }[], rounds = 2): Promise<void> {
  const sims: UsageSimulatorInfo[] = [];
  for (const { keyId } of keys) sims.push(await emu.admin.startUsage({ keyId, everyMs: 100, principal: 'payments-app', sourceAddress: '127.0.0.7' }));
  for (const [i, { error }] of keys.entries()) {
    await waitFor(async () => {
      const info = (await emu.admin.usage()).find((u) => u.id === sims[i]!.id);
      return info && (info.outcomes[error] ?? 0) >= rounds ? info : undefined;
    }, 10_000);
  }
  await emu.admin.stopAllUsage();
}

describe('findAttemptedUse', () => {
  let disabled: string;
  let pending: string;
  let quiet: string;
  let foreign: string;
  let window: { startTime: number; endTime: number };

  beforeAll(async () => {
    [[disabled], [pending], [quiet]] = await seedStore(emu, [{ keyState: 'Disabled' }, { keyState: 'PendingDeletion' }, { keyState: 'Enabled' }]);
    await emu.admin.seed({ stores: [{ id: OTHER_STORE, name: 'other', connectionState: 'CONNECTED' }] });
    [[foreign]] = (await emu.admin.seed({ keys: [{ customKeyStoreId: OTHER_STORE, keyState: 'Disabled' }] })).keyIds;
    const startTime = (await nowSeconds()) - 1000;
    await attemptUse([
      { keyId: disabled, error: 'DisabledException' },
      { keyId: pending, error: 'KMSInvalidStateException' },
      { keyId: foreign, error: 'DisabledException' },
    ]);
    // A management call's error on a store key (the run's own re-send, say) is not use.
    await expect(kms.send(new ScheduleKeyDeletionCommand({ KeyId: pending, PendingWindowInDays: 7 }))).rejects.toMatchObject({
      name: 'KMSInvalidStateException',
    });
    window = { startTime, endTime: (await nowSeconds()) + 1000 };
  });

  const storeArns = () => [disabled, pending, quiet].map((k) => keyArnOf(emu, k));

  function expectFindings(result: FindAttemptedUseResult): void {
    const byKey = new Map<string, Set<string>>();
    for (const f of result.findings) byKey.set(f.keyId, (byKey.get(f.keyId) ?? new Set()).add(`${f.eventName} ${f.errorCode}`));
    expect(Object.fromEntries([...byKey].map(([k, v]) => [k, [...v]]))).toEqual({
      [disabled]: ['Encrypt DisabledException'],
      [pending]: ['Encrypt KMSInvalidStateException'],
    });
    for (const f of result.findings) {
      expect(f).toMatchObject({
        caller: `arn:aws:iam::${emu.account}:user/payments-app`,
        sourceIPAddress: '127.0.0.7',
        userAgent: expect.stringContaining('app/payments-app'),
        eventId: expect.any(String),
      });
      expect(f.eventTime).toBeGreaterThanOrEqual(window.startTime);
      expect(f.eventTime).toBeLessThanOrEqual(window.endTime);
    }
    expect(result.total).toBe(result.findings.length);
    const times = result.findings.map((f) => f.eventTime);
    expect(times).toEqual([...times].sort((a, b) => b - a)); // newest first
  }

  test('account-wide: failed Encrypts on the disabled and the pending key, not the other store’s, not the management error', async () => {
    const result = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'account-wide' });
    expectFindings(result);
    expect(result.cost).toMatchObject({ strategy: 'account-wide', lookupCalls: expect.any(Number), eventsRead: expect.any(Number) });
    // One DescribeKey per distinct key with a failed cryptographic call (cached per key): disabled, pending, foreign.
    expect(result.cost.describeCalls).toBe(3);
  });

  test('per-key finds the same events, by the given ARNs only', async () => {
    const accountWide = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'account-wide' });
    const perKey = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'per-key', keyArns: storeArns() });
    expectFindings(perKey);
    expect(perKey.findings.map((f) => f.eventId).sort()).toEqual(accountWide.findings.map((f) => f.eventId).sort());
    expect(perKey.cost).toMatchObject({ strategy: 'per-key', lookupCalls: 3, describeCalls: 0 });
  });

  test('seen events are skipped, and maxFindings bounds the list but not the total', async () => {
    const all = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'account-wide' });
    const seen = all.findings.slice(0, 2).map((f) => f.eventId);
    const again = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'account-wide', seenEventIds: seen, maxFindings: 1 });
    expect(again.total).toBe(all.total - 2);
    expect(again.findings).toHaveLength(1);
    expect(seen).not.toContain(again.findings[0]!.eventId);
  });

  test('auto stays account-wide while the window needs no more pages than the store has keys', async () => {
    const result = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'auto', keyArns: storeArns() });
    expect(result.cost.strategy).toBe('account-wide');
    expectFindings(result);
  });

  test('without a CloudTrail client the activity fails non-retryably with CloudTrailNotConfigured', async () => {
    const { env } = recordingEnv();
    const { error } = await rejection(
      env.run(activities({ deps: { cloudTrail: undefined } }).findAttemptedUse, {
        customKeyStoreId: STORE,
        ...window,
        strategy: 'account-wide',
      } as FindAttemptedUseInput),
    );
    expect(error).toMatchObject({ type: 'CloudTrailNotConfigured', nonRetryable: true });
  });
});

test('auto falls back to per-key once the account-wide window needs more pages than the store has keys', async () => {
  const [[disabled, other]] = await seedStore(emu, [{ keyState: 'Disabled', count: 2 }]);
  const startTime = (await nowSeconds()) - 1000;
  await attemptUse([{ keyId: disabled, error: 'DisabledException' }], 1);
  // 150 other KMS events in the window (successful uses of default-store keys): 3+ pages of 50.
  await emu.admin.seed({ keys: [{ count: 150, ...(await usedJustNow()) }] });
  const window = { startTime, endTime: (await nowSeconds()) + 1000 };
  const keyArns = [disabled, other].map((k) => keyArnOf(emu, k));

  const auto = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'auto', keyArns });
  const perKey = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'per-key', keyArns });
  expect(auto.cost.strategy).toBe('per-key');
  expect(auto.findings.length).toBeGreaterThan(0);
  expect(auto.findings).toEqual(perKey.findings);
  // The two account-wide pages it read before giving up, then one lookup per key.
  expect(auto.cost.lookupCalls).toBe(2 + perKey.cost.lookupCalls);
});

test("LookupEvents is paced under the emulator's real 2/s: ~10 pages, none throttled, none failed", async () => {
  await seedStore(emu, []);
  const startTime = (await nowSeconds()) - 1000;
  await emu.admin.seed({ keys: [{ count: 480, ...(await usedJustNow()) }] });
  const window = { startTime, endTime: (await nowSeconds()) + 1000 };
  await emu.admin.setQuotaScale(1);
  try {
    const started = Date.now();
    const result = await findAttemptedUse({ customKeyStoreId: STORE, ...window, strategy: 'account-wide' }, { paced: true });
    const elapsed = Date.now() - started;
    expect(result.cost.lookupCalls).toBeGreaterThanOrEqual(10);
    expect(result.cost.eventsRead).toBeGreaterThanOrEqual(480);
    const stats = await emu.admin.stats();
    expect(stats.throttled.LookupEvents ?? 0).toBe(0);
    const calls = await emu.admin.audit({ operation: 'LookupEvents' });
    expect(calls).toHaveLength(result.cost.lookupCalls);
    expect(calls.filter((c) => c.outcome !== 'OK')).toEqual([]);
    // Evenly spaced at 2 × 0.97 per second.
    expect(elapsed).toBeGreaterThan(((result.cost.lookupCalls - 2) / 2) * 1000);
  } finally {
    await emu.admin.setQuotaScale(0);
  }
}, 30_000);

describe('findDeletionEvidence', () => {
  test("finds KMS's DeleteKey service events of the store's keys only, page by page with nextToken", async () => {
    await seedStore(emu, []);
    const startTime = (await nowSeconds()) - 1000;
    await emu.admin.seed({ stores: [{ id: OTHER_STORE, name: 'other', connectionState: 'CONNECTED' }] });
    const [[...storeKeys], [...foreignKeys], [...defaultKeys]] = (
      await emu.admin.seed({
        keys: [
          { customKeyStoreId: STORE, keyState: 'PendingDeletion', pendingWindowInDays: 7, count: 60 },
          { customKeyStoreId: OTHER_STORE, keyState: 'PendingDeletion', pendingWindowInDays: 7, count: 5 },
          { keyState: 'PendingDeletion', pendingWindowInDays: 7, count: 5 },
        ],
      })
    ).keyIds;
    expect(foreignKeys.length + defaultKeys.length).toBe(10);
    await emu.admin.advance(7 * DAY_MS + 1000);
    const input = { customKeyStoreId: STORE, startTime, endTime: (await nowSeconds()) + 1000 };

    const { findDeletionEvidence } = activities();
    const first = (await recordingEnv().env.run(findDeletionEvidence, { ...input, maxPages: 1 })) as FindDeletionEvidenceResult;
    expect(first.lookupCalls).toBe(1);
    expect(first.nextToken).toEqual(expect.any(String));
    expect(first.evidence.length).toBeLessThanOrEqual(50);
    const rest = (await recordingEnv().env.run(findDeletionEvidence, { ...input, nextToken: first.nextToken })) as FindDeletionEvidenceResult;
    expect(rest.nextToken).toBeUndefined();

    const evidence = [...first.evidence, ...rest.evidence];
    expect(evidence.map((e) => e.keyId).sort()).toEqual([...storeKeys].sort());
    expect(new Set(evidence.map((e) => e.eventId)).size).toBe(60);
    for (const e of evidence) {
      expect(e.eventTime).toBeGreaterThanOrEqual(input.startTime);
      expect(e.eventTime).toBeLessThanOrEqual(input.endTime);
    }
  });
});
