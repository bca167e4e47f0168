/**
 * keyLastUsage and disableKeys against the emulator, through the SDK: GetKeyLastUsage's answers turned into
 * the inputs of `classifyUsage` (used, never used, created before tracking began, deleted), paced under the
 * emulator's real 5/s quota without a throttled call; the quiet period's DisableKey (only Enabled keys of the
 * store, a cancelled batch hands back what it disabled, a lost answer is still attributed on the retry); and
 * rollbackKeys' `reenableOnly` keys.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { CancelledFailure } from '@temporalio/common';
import { createActivities, createKmsRateLimiter, type RollbackKeyOutcome, type RollbackKeysInput } from '../../src/activities';
import type { RunningEmulator } from '../../src/emulator';
import { classifyUsage, type DisableKeysResult, type KeyUsage } from '../../src/shared/usage';
import { DAY_MS, useSharedEmulator } from '../emulator/helpers';
import { activitiesFor, keyState, mutatingCalls, recordingEnv, rejection, seedStore, STORE, until } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

const OTHER_STORE = 'cks-activity0000002';
const lostAnswer = (operation: string) => ({ operation, errorRate: 1, count: 1, when: 'after' as const, errorType: 'KMSInternalException' as const });

async function seedOtherStoreKey(keyState: 'Enabled' | 'Disabled' = 'Enabled'): Promise<string> {
  await emu.admin.seed({ stores: [{ id: OTHER_STORE, name: 'other', connectionState: 'CONNECTED' }] });
  const [[keyId]] = (await emu.admin.seed({ keys: [{ customKeyStoreId: OTHER_STORE, keyState }] })).keyIds;
  return keyId;
}

describe('keyLastUsage', () => {
  test('reports last use, tracking start and creation per key, in input order; a deleted key is gone', async () => {
    await seedStore(emu, []);
    const now = (await emu.admin.now()).nowMs;
    await emu.admin.setKeyUsageTrackingStart(now - 100 * DAY_MS);
    const usedAt = now - 2 * DAY_MS;
    const [[used], [neverUsed], [oldKey]] = (
      await emu.admin.seed({
        keys: [
          { customKeyStoreId: STORE, creationDate: now - 10 * DAY_MS, lastUsage: { at: usedAt, operation: 'Encrypt' } },
          { customKeyStoreId: STORE },
          // Created before KMS began tracking, no use recorded since: it may have been used before.
          { customKeyStoreId: STORE, creationDate: now - 400 * DAY_MS },
        ],
      })
    ).keyIds;
    const missing = '00000000-0000-4000-8000-000000000000';

    const { env } = recordingEnv();
    const usage = (await env.run(activitiesFor(kms).keyLastUsage, { keyIds: [oldKey, missing, used, neverUsed] })) as KeyUsage[];
    expect(usage.map((u) => u.keyId)).toEqual([oldKey, missing, used, neverUsed]);
    const [old, gone, recent, never] = usage;
    expect(gone).toEqual({ keyId: missing, gone: true });
    expect(recent).toEqual({
      keyId: used,
      operation: 'Encrypt',
      lastUsedAt: Math.floor(usedAt / 1000) * 1000, // whole seconds, like CloudTrail's eventTime
      cloudTrailEventId: expect.any(String),
      trackingStartDate: expect.any(Number),
      keyCreationDate: expect.any(Number),
    });
    expect(never.lastUsedAt).toBeUndefined();
    expect(old.keyCreationDate).toBeLessThan(old.trackingStartDate!);

    const window = 30 * DAY_MS;
    expect(classifyUsage(recent, now, window)).toBe('USED_RECENTLY');
    expect(classifyUsage(recent, now, DAY_MS)).toBe('USED_BEFORE_WINDOW');
    expect(classifyUsage(never, now, window)).toBe('NOT_USED_SINCE_TRACKING');
    expect(classifyUsage(old, now, window)).toBe('UNKNOWN');
  });

  test('a retry resumes from the checkpoint: keys already read are not read again', async () => {
    const [keyIds] = await seedStore(emu, [{ count: 4 }]);
    const first = recordingEnv();
    await first.env.run(activitiesFor(kms).keyLastUsage, { keyIds: keyIds.slice(0, 2) });
    const checkpoint = first.beats[first.beats.length - 1];
    const before = (await emu.admin.audit({ operation: 'GetKeyLastUsage' })).length;

    const retry = recordingEnv({ heartbeatDetails: checkpoint });
    const usage = (await retry.env.run(activitiesFor(kms).keyLastUsage, { keyIds })) as KeyUsage[];
    expect(usage.map((u) => u.keyId)).toEqual(keyIds);
    expect((await emu.admin.audit({ operation: 'GetKeyLastUsage' })).length - before).toBe(2);
  });

  test("30 keys under the emulator's real 5/s quota: paced, none throttled, none failed", async () => {
    const [keyIds] = await seedStore(emu, [{ count: 30 }]);
    await emu.admin.setQuotaScale(1);
    try {
      const { keyLastUsage } = createActivities({ kms, limiter: createKmsRateLimiter() }); // AWS's quotas, as in production
      const { env } = recordingEnv();
      const started = Date.now();
      const usage = (await env.run(keyLastUsage, { keyIds })) as KeyUsage[];
      const elapsed = Date.now() - started;
      expect(usage.filter((u) => u.gone)).toEqual([]);
      const stats = await emu.admin.stats();
      expect(stats.throttled.GetKeyLastUsage ?? 0).toBe(0);
      const calls = await emu.admin.audit({ operation: 'GetKeyLastUsage' });
      expect(calls).toHaveLength(30);
      expect(calls.filter((c) => c.outcome !== 'OK')).toEqual([]);
      // Evenly spaced at 5 × 0.97 per second: 30 calls need about 6 s.
      expect(elapsed).toBeGreaterThan(5_000);
    } finally {
      await emu.admin.setQuotaScale(0);
    }
  }, 30_000);
});

describe('disableKeys', () => {
  test('disables only the Enabled keys of the store; the others are reported with the state read and left alone', async () => {
    const [[enabledA, enabledB], [disabled], [pending]] = await seedStore(emu, [
      { keyState: 'Enabled', count: 2 },
      { keyState: 'Disabled' },
      { keyState: 'PendingDeletion' },
    ]);
    const foreign = await seedOtherStoreKey();
    const missing = '00000000-0000-4000-8000-000000000001';
    const { env } = recordingEnv();
    const result = (await env.run(activitiesFor(kms).disableKeys, {
      customKeyStoreId: STORE,
      keyIds: [enabledA, disabled, pending, foreign, missing, enabledB],
    })) as DisableKeysResult;
    expect(result.outcomes).toEqual([
      { keyId: enabledA, outcome: 'DISABLED', priorState: 'Enabled' },
      { keyId: disabled, outcome: 'NOT_ENABLED', priorState: 'Disabled' },
      { keyId: pending, outcome: 'NOT_ENABLED', priorState: 'PendingDeletion' },
      { keyId: foreign, outcome: 'NOT_IN_STORE' },
      { keyId: missing, outcome: 'GONE' },
      { keyId: enabledB, outcome: 'DISABLED', priorState: 'Enabled' },
    ]);
    expect(await keyState(kms, enabledA)).toBe('Disabled');
    expect(await keyState(kms, enabledB)).toBe('Disabled');
    expect(await keyState(kms, foreign)).toBe('Enabled');
    expect(await keyState(kms, pending)).toBe('PendingDeletion');
    expect((await mutatingCalls(emu)).map((e) => `${e.operation} ${e.keyId}`).sort()).toEqual([`DisableKey ${enabledA}`, `DisableKey ${enabledB}`].sort());
  });

  test('a cancelled batch stops starting keys and hands back what it disabled in the CancelledFailure', async () => {
    const [keyIds] = await seedStore(emu, [{ count: 30, keyState: 'Enabled' }]);
    // 4 DisableKey a second: the batch would take 7 s.
    const { disableKeys } = activitiesFor(kms, {}, { DisableKey: 4 });
    const { env } = recordingEnv();
    const running = env.run(disableKeys, { customKeyStoreId: STORE, keyIds });
    running.catch(() => undefined);
    await until(async () => (await mutatingCalls(emu, 'DisableKey')).length >= 3, 20_000, 'DisableKey under way');
    const cancelledAt = Date.now();
    env.cancel();
    const { error, afterMs } = await rejection(running, cancelledAt);
    expect(error).toBeInstanceOf(CancelledFailure);
    expect(afterMs).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, 500));

    const partial = (error as CancelledFailure).details[0] as DisableKeysResult;
    const calls = await mutatingCalls(emu, 'DisableKey');
    expect(calls.length).toBeLessThan(15);
    expect(partial.outcomes.every((o) => o.outcome === 'DISABLED' && o.priorState === 'Enabled')).toBe(true);
    // Every key reported is Disabled; at most the answers cut off by the cancel are missing from the report.
    for (const o of partial.outcomes) expect(await keyState(kms, o.keyId)).toBe('Disabled');
    expect(partial.outcomes.length).toBeGreaterThanOrEqual(calls.length - 4);
    // Reported in input order.
    const positions = partial.outcomes.map((o) => keyIds.indexOf(o.keyId));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  }, 30_000);

  test('a lost DisableKey answer: the retry reads Disabled, sends nothing, and still reports DISABLED', async () => {
    const [[keyId]] = await seedStore(emu, [{ keyState: 'Enabled' }]);
    await emu.admin.setFaults([lostAnswer('DisableKey')]);
    const input = { customKeyStoreId: STORE, keyIds: [keyId] };
    const first = recordingEnv();
    const { error } = await rejection(first.env.run(activitiesFor(kms, { maxCallAttempts: 1 }).disableKeys, input));
    expect(error).toMatchObject({ type: 'KMSInternalException', nonRetryable: false });
    expect(await keyState(kms, keyId)).toBe('Disabled');

    const retry = recordingEnv({ heartbeatDetails: first.beats[first.beats.length - 1] });
    expect(await retry.env.run(activitiesFor(kms).disableKeys, input)).toEqual({ outcomes: [{ keyId, outcome: 'DISABLED', priorState: 'Enabled' }] });
    expect((await mutatingCalls(emu)).map((e) => e.operation)).toEqual(['DisableKey']);
  });
});

describe('rollbackKeys with reenableOnly (keys the quiet period disabled)', () => {
  test('a Disabled key is re-enabled; a key found PendingDeletion was scheduled by someone else and is left alone', async () => {
    const [[disabled], [pending]] = await seedStore(emu, [{ keyState: 'Disabled' }, { keyState: 'PendingDeletion' }]);
    const { env } = recordingEnv();
    const outcomes = (await env.run(activitiesFor(kms).rollbackKeys, {
      keys: [
        { keyId: disabled, priorState: 'Enabled', certain: true, reenableOnly: true },
        { keyId: pending, priorState: 'Enabled', certain: true, reenableOnly: true },
      ],
      verifyTimeoutMs: 5_000,
    } satisfies RollbackKeysInput)) as RollbackKeyOutcome[];
    expect(outcomes).toEqual([
      { keyId: disabled, outcome: 'CANCELLED', reEnabled: true, actions: ['EnableKey'], restoredState: 'Enabled', finalState: 'Enabled' },
      { keyId: pending, outcome: 'NOT_PENDING', actions: [], finalState: 'PendingDeletion' },
    ]);
    expect(await keyState(kms, disabled)).toBe('Enabled');
    expect(await keyState(kms, pending)).toBe('PendingDeletion');
    expect((await mutatingCalls(emu)).map((e) => `${e.operation} ${e.keyId}`)).toEqual([`EnableKey ${disabled}`]);
  });
});
