/**
 * The pipelined account scan behind inventoryScan, run as a real activity (the SDK's activity test
 * environment: heartbeats, cancellation) against the emulator through `@aws-sdk/client-kms`. What the
 * workflow relies on: every store key exactly once across continued calls, a bounded result however
 * dense the store, a checkpoint that never covers a page still in flight, and a failure that leaves no
 * call running behind it.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { createActivities, createKmsRateLimiter, type InventoryPage } from '../../src/activities';
import { interleavedKeys } from '../../bench/scenarios/inventory';
import { useSharedEmulator } from '../emulator/helpers';

let emu: RunningEmulator;
let kms: KMSClient;
useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

const STORE = 'cks-scan0000000001';
const activities = () => createActivities({ kms, limiter: createKmsRateLimiter({ quotaScale: 0 }), describeConcurrency: 32 });

async function seed(accountKeys: number, storeKeys: number): Promise<Set<string>> {
  await emu.admin.reset();
  await emu.admin.seed({ stores: [{ id: STORE, name: 'scan', connectionState: 'CONNECTED' }] });
  const specs = interleavedKeys(STORE, accountKeys, storeKeys);
  const seeded = await emu.admin.seed({ keys: specs });
  // The store's keys as seeded, to compare the scan against.
  const ids = new Set(specs.flatMap((spec, i) => (spec.customKeyStoreId === STORE ? seeded.keyIds[i] : [])));
  expect(ids.size).toBe(storeKeys);
  return ids;
}

async function scanAll(maxStoreKeys: number, env = new MockActivityEnvironment()): Promise<{ pages: InventoryPage[]; keys: string[] }> {
  const { inventoryScan } = activities();
  const pages: InventoryPage[] = [];
  let marker: string | undefined;
  do {
    const page = (await env.run(inventoryScan, { customKeyStoreId: STORE, startMarker: marker, maxStoreKeys, withAliases: false })) as InventoryPage;
    pages.push(page);
    marker = page.nextMarker;
  } while (marker);
  return { pages, keys: pages.flatMap((p) => p.keys.map((k) => k.keyId)) };
}

test('a sparse account: every store key exactly once across continued calls, each call within its budget plus one page', async () => {
  const expected = await seed(6_000, 240);
  const { pages, keys } = await scanAll(100);
  expect(new Set(keys)).toEqual(expected);
  expect(keys).toHaveLength(expected.size);
  expect(pages.reduce((n, p) => n + p.scanned, 0)).toBe(6_000);
  for (const p of pages.slice(0, -1)) expect(p.keys.length).toBeGreaterThanOrEqual(100);
  for (const p of pages) expect(p.keys.length).toBeLessThan(100 + 1_000);
  // Each key described once: the lookahead never describes a page twice.
  const describes = (await emu.admin.audit({ operation: 'DescribeKey' })).map((e) => e.keyId);
  expect(new Set(describes).size).toBe(6_000);
  expect(describes).toHaveLength(6_000);
}, 60_000);

test('a store that is the whole account: results stay at the budget (no lookahead can overflow it)', async () => {
  const expected = await seed(2_500, 2_500);
  const { pages, keys } = await scanAll(1_000);
  expect(new Set(keys)).toEqual(expected);
  expect(pages.map((p) => p.keys.length)).toEqual([1_000, 1_000, 500]);
}, 60_000);

test('a DescribeKey failure on a later page fails closed, after every call in flight has settled', async () => {
  await seed(5_000, 150);
  await emu.admin.setFaults([{ operation: 'DescribeKey', errorRate: 1, errorType: 'AccessDeniedException', afterCount: 2_300, count: 1 }]);
  const beats: unknown[] = [];
  const env = new MockActivityEnvironment();
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await expect(scanAll(10_000, env)).rejects.toMatchObject({ type: 'InventoryIncomplete', nonRetryable: true });
    const settled = (await emu.admin.audit({ operation: 'DescribeKey' })).length;
    await new Promise((r) => setTimeout(r, 300));
    // Nothing kept calling KMS behind the failed attempt (it would race the activity's retry).
    expect((await emu.admin.audit({ operation: 'DescribeKey' })).length).toBe(settled);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  expect(unhandled).toEqual([]);
  // Checkpoints only ever cover whole pages: the last one is at a page boundary before the failed call.
  const last = beats[beats.length - 1] as { scanned: number; done: boolean; marker?: string };
  expect(last.scanned % 1_000).toBe(0);
  expect(last.scanned).toBeLessThanOrEqual(2_000);
  expect(last.done).toBe(false);
}, 60_000);

test('a retried attempt resumes from the last checkpoint: no page skipped, none counted twice', async () => {
  const expected = await seed(5_000, 400);
  await emu.admin.setFaults([{ operation: 'DescribeKey', errorRate: 1, errorType: 'AccessDeniedException', afterCount: 3_500, count: 1 }]);
  const beats: unknown[] = [];
  const first = new MockActivityEnvironment();
  first.on('heartbeat', (d: unknown) => beats.push(d));
  const { inventoryScan } = activities();
  const input = { customKeyStoreId: STORE, maxStoreKeys: 10_000, withAliases: false };
  await expect(first.run(inventoryScan, input)).rejects.toMatchObject({ type: 'InventoryIncomplete' });
  const checkpoint = beats[beats.length - 1];
  const retry = new MockActivityEnvironment({ heartbeatDetails: checkpoint });
  const page = (await retry.run(inventoryScan, input)) as InventoryPage;
  expect(page.nextMarker).toBeUndefined();
  expect(page.scanned).toBe(5_000);
  expect(new Set(page.keys.map((k) => k.keyId))).toEqual(expected);
  expect(page.keys).toHaveLength(expected.size);
}, 60_000);
