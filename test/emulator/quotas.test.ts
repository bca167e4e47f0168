/** Per-operation request quotas (reference §7): token buckets at AWS default rates × quotaScale. */
import { DescribeCustomKeyStoresCommand, DisableKeyCommand, EnableKeyCommand, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import { type SdkError, withEmulator } from './helpers';

const THROTTLE_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';

async function settle(calls: Promise<unknown>[]): Promise<(SdkError | 'OK')[]> {
  const settled = await Promise.allSettled(calls);
  return settled.map((s) => (s.status === 'fulfilled' ? 'OK' : (s.reason as SdkError)));
}

async function outcomes(calls: Promise<unknown>[]): Promise<string[]> {
  return (await settle(calls)).map((r) => (r === 'OK' ? r : r.name));
}

test('quotaScale 1: a burst of 30 ScheduleKeyDeletion calls gets the 15-call burst through and throttles the rest (400)', () =>
  withEmulator({ quotaScale: 1 }, async (emu, kms) => {
    const [keys] = (await emu.admin.seed({ keys: [{ count: 30 }] })).keyIds;
    const started = performance.now();
    const settled = await settle(keys.map((k) => kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }))));
    const elapsedS = (performance.now() - started) / 1000;
    const results = settled.map((r) => (r === 'OK' ? r : r.name));
    const ok = results.filter((r) => r === 'OK').length;
    // Burst capacity 15 plus whatever refilled (15/s) while the burst was being served.
    expect(ok).toBeGreaterThanOrEqual(15);
    expect(ok).toBeLessThanOrEqual(15 + Math.ceil(elapsedS * 15) + 1);
    expect(ok).toBeLessThan(30);
    expect(results.filter((r) => r === 'ThrottlingException').length).toBe(30 - ok);
    const stats = await emu.admin.stats();
    expect(stats.throttled.ScheduleKeyDeletion).toBe(30 - ok);
    expect(stats.requests.ScheduleKeyDeletion).toBe(30);
    const err = settled.find((r): r is SdkError => r !== 'OK') as SdkError;
    expect({ name: err.name, message: err.message, status: err.$metadata.httpStatusCode, fault: err.$fault }).toEqual({
      name: 'ThrottlingException',
      message: THROTTLE_MESSAGE,
      status: 400,
      fault: 'client',
    });
  }));

test('quotaScale 0 disables throttling', () =>
  withEmulator({ quotaScale: 0 }, async (emu, kms) => {
    const [keys] = (await emu.admin.seed({ keys: [{ count: 60 }] })).keyIds;
    const results = await outcomes(keys.map((k) => kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }))));
    expect(results.every((r) => r === 'OK')).toBe(true);
    expect((await emu.admin.stats()).throttled).toEqual({});
  }));

test('the scale can change at runtime; 5-rps operations throttle after the burst of 5 and recover', () =>
  withEmulator({ quotaScale: 0 }, async (emu, kms) => {
    await emu.admin.setQuotaScale(1);
    const started = performance.now();
    const results = await outcomes(Array.from({ length: 12 }, () => kms.send(new DescribeCustomKeyStoresCommand({}))));
    const ok = results.filter((r) => r === 'OK').length;
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(5 + Math.ceil(((performance.now() - started) / 1000) * 5) + 1);
    expect(results.filter((r) => r === 'ThrottlingException').length).toBe(12 - ok);
    await new Promise((r) => setTimeout(r, 450));
    await kms.send(new DescribeCustomKeyStoresCommand({}));
  }));

test('the SDK retries throttled calls (standard mode), so most of a small burst succeeds', () =>
  withEmulator(
    { quotaScale: 1 },
    async (emu, kms) => {
      const first = await outcomes(Array.from({ length: 10 }, () => kms.send(new DescribeCustomKeyStoresCommand({}))));
      expect(first.filter((r) => r === 'OK').length).toBeGreaterThanOrEqual(8);
      const audit = await emu.admin.audit({ operation: 'DescribeCustomKeyStores' });
      expect(audit.some((e) => e.outcome === 'ThrottlingException')).toBe(true);
    },
    { maxAttempts: 3 },
  ));

test('hot key: rapid Enable/Disable on one key are throttled before the per-operation quota', () =>
  withEmulator({ quotaScale: 1 }, async (emu, kms) => {
    const [[k1, k2]] = (await emu.admin.seed({ keys: [{ count: 2 }] })).keyIds;
    const results: string[] = [];
    for (const cmd of [
      new DisableKeyCommand({ KeyId: k1 }),
      new EnableKeyCommand({ KeyId: k1 }),
      new DisableKeyCommand({ KeyId: k1 }),
      new EnableKeyCommand({ KeyId: k1 }),
    ]) {
      results.push(...(await outcomes([kms.send(cmd)])));
    }
    expect(results).toEqual(['OK', 'OK', 'OK', 'ThrottlingException']);
    // Another key is not affected.
    await kms.send(new DisableKeyCommand({ KeyId: k2 }));
  }));
