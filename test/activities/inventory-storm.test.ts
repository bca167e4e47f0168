/**
 * A throttling storm during the inventory must not fail the run: ListKeys and DescribeKey calls that KMS
 * throttles are retried, paced, for as long as the scan heartbeats (up to `retryBudgetMs` of continuous
 * throttling per call), then fail the attempt retryably; only errors retrying cannot fix fail it closed.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import type { InventoryPage } from '../../src/activities';
import { useSharedEmulator } from '../emulator/helpers';
import { activitiesFor, recordingEnv, rejection, STORE } from './helpers';

let emu: RunningEmulator;
let kms: KMSClient;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

/** 100 account keys, 60 of them in the store, interleaved with the others. */
async function seedAccount(): Promise<Set<string>> {
  await emu.admin.reset();
  await emu.admin.seed({ stores: [{ id: STORE, name: 'storm', connectionState: 'CONNECTED' }] });
  const specs = Array.from({ length: 20 }, (_, i) => [
    { count: 3, customKeyStoreId: STORE, keyState: i % 2 ? ('Enabled' as const) : ('Disabled' as const) },
    { count: 2 },
  ]).flat();
  const { keyIds } = await emu.admin.seed({ keys: specs });
  return new Set(keyIds.filter((_, i) => i % 2 === 0).flat());
}

function collectUnhandled(): { unhandled: unknown[]; dispose(): void } {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  return { unhandled, dispose: () => process.off('unhandledRejection', onUnhandled) };
}

test('a throttling storm on most ListKeys and DescribeKey calls: inventoryScan still returns every store key', async () => {
  const expected = await seedAccount();
  expect(expected.size).toBe(60);
  // The storm: 80% of calls throttled until 3 ListKeys and 200 DescribeKey calls were (2 throttles per key on average).
  await emu.admin.setFaults([
    { operation: 'ListKeys', errorRate: 0.8, errorType: 'ThrottlingException', count: 3 },
    { operation: 'DescribeKey', errorRate: 0.8, errorType: 'ThrottlingException', count: 200 },
  ]);
  const watcher = collectUnhandled();
  try {
    // Three attempts per call would fail this scan many times over: a heartbeating scan is bounded by time instead.
    const { inventoryScan } = activitiesFor(kms, { maxCallAttempts: 3 });
    const { env, beats } = recordingEnv();
    const page = (await env.run(inventoryScan, { customKeyStoreId: STORE, maxStoreKeys: 1_000, withAliases: false })) as InventoryPage;
    expect(new Set(page.keys.map((k) => k.keyId))).toEqual(expected);
    expect(page.keys).toHaveLength(60);
    expect(page.scanned).toBe(100);
    expect(page.nextMarker).toBeUndefined();
    // The scan kept heartbeating while KMS throttled it (a real worker would otherwise time it out).
    expect(beats.length).toBeGreaterThanOrEqual(2);
  } finally {
    watcher.dispose();
    await emu.admin.clearFaults();
  }
  expect(watcher.unhandled).toEqual([]);
  const throttled = (await emu.admin.audit({ operation: 'DescribeKey' })).filter((e) => e.outcome === 'ThrottlingException');
  expect(throttled).toHaveLength(200);
}, 60_000);

test('throttling past the retry budget fails the attempt retryably (never InventoryIncomplete), and the retry resumes', async () => {
  const expected = await seedAccount();
  await emu.admin.setFaults([{ operation: 'DescribeKey', errorRate: 1, errorType: 'ThrottlingException' }]);
  const { inventoryScan, driftScan } = activitiesFor(kms, { retryBudgetMs: 1_500, describeConcurrency: 8 });
  const input = { customKeyStoreId: STORE, maxStoreKeys: 1_000, withAliases: false };
  const first = recordingEnv();
  const { error, afterMs } = await rejection(first.env.run(inventoryScan, input));
  expect(error).toMatchObject({ type: 'ThrottlingException', nonRetryable: false });
  expect(afterMs).toBeLessThan(1_500 + 3_000);
  const drift = await rejection(recordingEnv().env.run(driftScan, { customKeyStoreId: STORE, maxReported: 10 }));
  expect(drift.error).toMatchObject({ type: 'ThrottlingException', nonRetryable: false });

  await emu.admin.clearFaults();
  const retry = recordingEnv({ heartbeatDetails: first.beats[first.beats.length - 1] });
  const page = (await retry.env.run(inventoryScan, input)) as InventoryPage;
  expect(new Set(page.keys.map((k) => k.keyId))).toEqual(expected);
}, 60_000);

test('an error retrying cannot fix still fails closed at once, non-retryably, in the middle of a storm', async () => {
  await seedAccount();
  await emu.admin.setFaults([
    { operation: 'DescribeKey', errorRate: 1, errorType: 'AccessDeniedException', afterCount: 30, count: 1 },
    { operation: 'DescribeKey', errorRate: 0.8, errorType: 'ThrottlingException' },
  ]);
  const { inventoryScan } = activitiesFor(kms, { describeConcurrency: 16 });
  const started = Date.now();
  const { error } = await rejection(recordingEnv().env.run(inventoryScan, { customKeyStoreId: STORE, maxStoreKeys: 1_000, withAliases: false }));
  expect(error).toMatchObject({ type: 'InventoryIncomplete', nonRetryable: true });
  // The siblings still retrying were stopped: the failure does not wait out their throttling.
  expect(Date.now() - started).toBeLessThan(10_000);
  const settled = (await emu.admin.audit({ operation: 'DescribeKey' })).length;
  await new Promise((r) => setTimeout(r, 1_000));
  expect((await emu.admin.audit({ operation: 'DescribeKey' })).length).toBe(settled);
  await emu.admin.clearFaults();
}, 60_000);
